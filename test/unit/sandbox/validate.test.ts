import { strict as assert } from 'node:assert';
import { defaultConfig, finishConfig } from '../../../src/config';
import { NamespaceMode, RunPodSandboxRequest } from '../../../src/gen/api';
import { planSandbox } from '../../../src/sandbox/validate';

const config = (() => {
  const c = defaultConfig();
  finishConfig(c);
  return c;
})();

function req(config: object = {}, runtimeHandler = ''): RunPodSandboxRequest {
  return RunPodSandboxRequest.fromPartial({ runtimeHandler, config: { metadata: { name: 'p', namespace: 'ns', uid: 'u', attempt: 1 }, ...config } as any });
}

describe('sandbox/validate', () => {
  it('defaults: pod namespaces, hostname = pod name, default handler, default cgroup parent', () => {
    const p = planSandbox(req(), config, '/nori/podX');
    assert.equal(p.handler, 'runc');
    assert.equal(p.requestedHandler, '');
    assert.equal(p.hostname, 'p');
    assert.equal(p.hostNetwork, false);
    assert.equal(p.pid, NamespaceMode.POD);
    assert.equal(p.cgroupParent, '/nori/podX');
  });

  it('unknown handler → InvalidArgument naming the valid ones', () => {
    assert.throws(() => planSandbox(req({}, 'kata'), config, '/x'), (e: Error) => e.name === 'InvalidArgumentError' && e.message.includes('"kata"') && e.message.includes('"runc"') && e.message.includes('"crun"'));
    assert.equal(planSandbox(req({}, 'crun'), config, '/x').handler, 'crun');
  });

  it('metadata name/namespace/uid are required', () => {
    for (const field of ['name', 'namespace', 'uid']) {
      const m: Record<string, unknown> = { name: 'p', namespace: 'ns', uid: 'u', attempt: 0, [field]: '' };
      assert.throws(() => planSandbox(req({ metadata: m }), config, '/x'), new RegExp(`metadata.${field} is required`));
    }
    assert.throws(() => planSandbox(RunPodSandboxRequest.fromPartial({}), config, '/x'), /config is required/);
  });

  it('sysctls: net.* and IPC ones sorted to /proc/sys paths; others refused; none for host namespaces', () => {
    const p = planSandbox(req({ linux: { sysctls: { 'kernel.shm_rmid_forced': '1', 'net.ipv4.ip_forward': '1', 'fs.mqueue.msg_max': '20' } } }), config, '/x');
    assert.deepEqual(p.sysctls, [['fs/mqueue/msg_max', '20'], ['kernel/shm_rmid_forced', '1'], ['net/ipv4/ip_forward', '1']]);
    assert.throws(() => planSandbox(req({ linux: { sysctls: { 'kernel.hostname': 'x' } } }), config, '/x'), /not namespaced/);
    assert.throws(() => planSandbox(req({ linux: { sysctls: { 'vm.overcommit_memory': '1' } } }), config, '/x'), /not namespaced/);
    const hostNet = { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } };
    assert.throws(() => planSandbox(req({ linux: { ...hostNet, sysctls: { 'net.ipv4.ip_forward': '1' } } }), config, '/x'), /host network/);
    const hostIpc = { securityContext: { namespaceOptions: { ipc: NamespaceMode.NODE } } };
    assert.throws(() => planSandbox(req({ linux: { ...hostIpc, sysctls: { 'kernel.shmmax': '1' } } }), config, '/x'), /host IPC/);
  });

  it('cgroup parent: cgroupfs kept, systemd slices expanded, .. refused; bad hostnames refused', () => {
    assert.equal(planSandbox(req({ linux: { cgroupParent: '/kubepods/besteffort/podu' } }), config, '/x').cgroupParent, '/kubepods/besteffort/podu');
    assert.equal(planSandbox(req({ linux: { cgroupParent: 'kubepods-podu.slice' } }), config, '/x').cgroupParent, '/kubepods.slice/kubepods-podu.slice');
    assert.throws(() => planSandbox(req({ linux: { cgroupParent: '/../x' } }), config, '/x'), /\.\./);
    assert.throws(() => planSandbox(req({ hostname: 'bad_name!' }), config, '/x'), /host name/);
  });
});
