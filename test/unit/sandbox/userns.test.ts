// The CRI's rules for userns_options (mode POD/NODE allowed, CONTAINER/TARGET refused, exactly
// one uid and one gid range that maps container id 0), and what a user-namespaced pod cannot be.

import { strict as assert } from 'node:assert';
import { defaultConfig, finishConfig } from '../../../src/config';
import { NamespaceMode, RunPodSandboxRequest, type IDMapping } from '../../../src/gen/api';
import { handlerSupportsUserns, toHostId } from '../../../src/sandbox/userns';
import { planSandbox } from '../../../src/sandbox/validate';
import { runtimeHandlers } from '../../../src/cri/status';

const config = (() => {
  const c = defaultConfig();
  finishConfig(c);
  return c;
})();

const M: IDMapping[] = [{ containerId: 0, hostId: 1000, length: 100000 }];

function req(nsOpts: object, runtimeHandler = ''): RunPodSandboxRequest {
  return RunPodSandboxRequest.fromPartial({
    runtimeHandler,
    config: { metadata: { name: 'p', namespace: 'ns', uid: 'u', attempt: 1 }, linux: { securityContext: { namespaceOptions: nsOpts } } } as any,
  });
}

const plan = (nsOpts: object, handler = '') => planSandbox(req(nsOpts, handler), config, '/x');
const invalid = (re: RegExp) => (e: Error) => e.name === 'InvalidArgumentError' && re.test(e.message);

describe('sandbox/userns', () => {
  it('mode POD with one range mapping container id 0: the pod gets its maps', () => {
    const p = plan({ usernsOptions: { mode: NamespaceMode.POD, uids: M, gids: M } });
    assert.deepEqual(p.userns, { uidMappings: [{ containerId: 0, hostId: 1000, length: 100000 }], gidMappings: [{ containerId: 0, hostId: 1000, length: 100000 }] });
  });

  it('mode NODE (or no options): the host\'s user namespace, as before', () => {
    assert.equal(plan({ usernsOptions: { mode: NamespaceMode.NODE } }).userns, undefined);
    assert.equal(plan({}).userns, undefined);
    assert.throws(() => plan({ usernsOptions: { mode: NamespaceMode.NODE, uids: M, gids: M } }), invalid(/takes no mappings/));
  });

  it('CONTAINER and TARGET are refused with InvalidArgument', () => {
    assert.throws(() => plan({ usernsOptions: { mode: NamespaceMode.CONTAINER } }), invalid(/CONTAINER is not supported/));
    assert.throws(() => plan({ usernsOptions: { mode: NamespaceMode.TARGET } }), invalid(/TARGET is not supported/));
  });

  it('more than one mapping, no mapping, or container id 0 unmapped are refused', () => {
    const two = [...M, { containerId: 0, hostId: 2000, length: 100000 }];
    assert.throws(() => plan({ usernsOptions: { mode: NamespaceMode.POD, uids: two, gids: two } }), invalid(/only one mapping/));
    assert.throws(() => plan({ usernsOptions: { mode: NamespaceMode.POD, uids: M, gids: two } }), invalid(/gids: only one mapping/));
    assert.throws(() => plan({ usernsOptions: { mode: NamespaceMode.POD, uids: [], gids: M } }), invalid(/needs uids/));
    const from1 = [{ containerId: 1, hostId: 1000, length: 100000 }];
    assert.throws(() => plan({ usernsOptions: { mode: NamespaceMode.POD, uids: from1, gids: from1 } }), invalid(/container id 0 is not mapped/));
    assert.throws(() => plan({ usernsOptions: { mode: NamespaceMode.POD, uids: [{ containerId: 0, hostId: 1, length: 0 }], gids: M } }), invalid(/length/));
    assert.throws(() => plan({ usernsOptions: { mode: NamespaceMode.POD, uids: [{ containerId: 0, hostId: 0xffffffff, length: 2 }], gids: M } }), invalid(/overflows/));
  });

  it('a user-namespaced pod cannot use the host\'s network, IPC or PID namespace, nor a handler without support', () => {
    const other = { ...config, runtimes: { ...config.runtimes, kata: { ...config.runtimes.runc!, path: '/usr/bin/kata-runtime' } } };
    const u = { mode: NamespaceMode.POD, uids: M, gids: M };
    assert.throws(() => plan({ usernsOptions: u, network: NamespaceMode.NODE }), invalid(/host network/));
    assert.throws(() => plan({ usernsOptions: u, ipc: NamespaceMode.NODE }), invalid(/host IPC/));
    assert.throws(() => plan({ usernsOptions: u, pid: NamespaceMode.NODE }), invalid(/host PID/));
    assert.throws(() => planSandbox(req({ usernsOptions: u }, 'kata'), other, '/x'), invalid(/"kata" does not support user namespaces/));
    assert.ok(plan({ usernsOptions: u }, 'crun').userns);
    assert.throws(() => planSandbox(req({ usernsOptions: u }), config, '/x', () => false), invalid(/cannot idmap tmpfs/));
    assert.ok(planSandbox(req({ usernsOptions: u }), config, '/x', () => true).userns);
  });

  it('Status lists user_namespaces for runc and crun (and "", the default handler), not for others', () => {
    assert.equal(handlerSupportsUserns('/usr/sbin/runc'), true);
    assert.equal(handlerSupportsUserns('/usr/bin/crun'), true);
    assert.equal(handlerSupportsUserns('/usr/bin/kata-runtime'), false);
    const withKata = { ...config, runtimes: { ...config.runtimes, kata: { ...config.runtimes.runc!, path: '/usr/bin/kata-runtime' } } };
    const byName = new Map(runtimeHandlers(withKata).map((h) => [h.name, h.features?.userNamespaces]));
    assert.deepEqual([...byName], [['', true], ['crun', true], ['kata', false], ['runc', true]]);
    // a node whose kernel cannot idmap tmpfs (Linux < 6.3) lists it for none
    assert.ok(runtimeHandlers(withKata, {}, false).every((h) => h.features?.userNamespaces === false));
  });

  it('toHostId maps through the ranges', () => {
    const r = [{ containerId: 0, hostId: 1000, length: 10 }];
    assert.equal(toHostId(r, 0), 1000);
    assert.equal(toHostId(r, 9), 1009);
    assert.equal(toHostId(r, 10), undefined);
  });
});
