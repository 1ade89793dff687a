import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isStreaming, protoRpcs } from '../../helpers/cri-client';
import { REPO, startNori, writeConflist, type NoriProcess } from '../../helpers/daemon';

const grpcCode = (e: unknown) => (e as { code: number }).code;
const UNIMPLEMENTED = 12;
const INVALID_ARGUMENT = 3;

describe('runtime-level RPCs (real daemon)', function () {
  let nori: NoriProcess;
  before(async () => {
    nori = await startNori();
  });
  after(async () => nori?.cleanup());

  it('Version names nori, its package version and CRI v1', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    const v = await nori.client.call('Version', { version: 'v1' });
    assert.deepEqual(v, { version: '0.1.0', runtime_name: 'nori', runtime_version: pkg.version, runtime_api_version: 'v1' });
  });

  it('Status: RuntimeReady, and NetworkReady false with a reason until a conflist exists', async () => {
    const before = await nori.client.call('Status', { verbose: false });
    const cond = (s: any, t: string) => s.status.conditions.find((c: any) => c.type === t);
    assert.equal(cond(before, 'RuntimeReady').status, true);
    const net = cond(before, 'NetworkReady');
    assert.equal(net.status, false);
    assert.equal(net.reason, 'NetworkPluginNotReady');
    assert.match(net.message, /cni/i);

    const file = writeConflist(nori.cniConfDir);
    const after = await nori.client.call('Status', { verbose: false });
    assert.equal(cond(after, 'NetworkReady').status, true, JSON.stringify(after));
    assert.equal(cond(after, 'NetworkReady').reason, '');
    require('node:fs').rmSync(file);
  });

  it('Status lists runtime handlers (default as "") and verbose info', async () => {
    const s = await nori.client.call('Status', { verbose: true });
    const names = s.runtime_handlers.map((h: any) => h.name);
    assert.deepEqual(names, ['', 'crun', 'runc']);
    assert.equal(typeof s.runtime_handlers[0].features.recursive_read_only_mounts, 'boolean');
    const config = JSON.parse(s.info.config);
    assert.equal(config.listen, nori.socket);
    assert.equal(config.defaultRuntime, 'runc');
    const quiet = await nori.client.call('Status', { verbose: false });
    assert.deepEqual(quiet.info, {});
  });

  it('RuntimeConfig reports the cgroupfs driver', async () => {
    const r = await nori.client.call('RuntimeConfig', {});
    assert.equal(r.linux.cgroup_driver, 'CGROUPFS');
  });

  it('UpdateRuntimeConfig stores the pod CIDR and refuses a malformed one', async () => {
    await nori.client.call('UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: '10.244.1.0/24,fd00:1::/64' } } });
    const s = await nori.client.call('Status', { verbose: true });
    assert.equal(s.info.podCIDR, '10.244.1.0/24,fd00:1::/64');
    await assert.rejects(
      nori.client.call('UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: '10.244.1.0/99' } } }),
      (e: any) => grpcCode(e) === INVALID_ARGUMENT && /10\.244\.1\.0\/99/.test(e.details),
    );
  });

  it('implements every RPC of proto/api.proto: none is a transport error, UNKNOWN or UNIMPLEMENTED', async () => {
    const { runtime, image } = protoRpcs();
    assert.equal(runtime.length, 35);
    assert.equal(image.length, 6);
    for (const rpc of [...runtime, ...image]) {
      try {
        // GetContainerEvents never ends by itself: the deadline ends it (DEADLINE_EXCEEDED is fine here).
        if (isStreaming(rpc)) await nori.client.stream(rpc, {}, { deadlineMs: 2000 });
        else await nori.client.call(rpc, {}, { deadlineMs: 5000 });
      } catch (e: any) {
        assert.notEqual(e.code, 14 /* UNAVAILABLE */, `${rpc}: ${e.message}`);
        assert.notEqual(e.code, 2 /* UNKNOWN */, `${rpc}: ${e.message}`);
        assert.notEqual(e.code, UNIMPLEMENTED, `${rpc}: ${e.message}`);
      }
    }
  });
});

describe('daemon configuration', function () {
  it('RuntimeConfig follows --cgroup-driver systemd', async () => {
    const n = await startNori({ extraArgs: ['--cgroup-driver', 'systemd'] });
    try {
      const r = await n.client.call('RuntimeConfig', {});
      assert.equal(r.linux.cgroup_driver, 'SYSTEMD');
    } finally {
      await n.cleanup();
    }
  });

  it('the pod CIDR survives a restart', async () => {
    const a = await startNori();
    try {
      await a.client.call('UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: '10.1.0.0/16' } } });
      assert.equal(await a.stop(), 0);
      a.client.close();
      const b = await startNori({ dir: a.dir });
      try {
        const s = await b.client.call('Status', { verbose: true });
        assert.equal(s.info.podCIDR, '10.1.0.0/16');
      } finally {
        b.client.close();
        await b.stop();
      }
    } finally {
      await a.cleanup();
    }
  });

  it('refuses an unknown default runtime with a clear message', async () => {
    await assert.rejects(startNori({ extraArgs: ['--default-runtime', 'kata'], timeoutMs: 5000 }), /kata/);
  });
});
