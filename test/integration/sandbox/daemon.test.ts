// The sandbox RPCs over the wire against a real bin/nori (proto-loader client, snake_case):
// run, status (verbose), list filters, a daemon restart, stop/remove twice, NotFound.

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startNori, type NoriProcess } from '../../helpers/daemon';
import { PLUGINS, removeMasqRules, sh, succeeds } from './env';
import { cniPluginsPresent } from '../../helpers/cni_plugins';

const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const INVALID_ARGUMENT = 3;

describe('sandbox RPCs (root, real bin/nori)', function () {
  this.timeout(90_000);
  const suffix = randomBytes(3).toString('hex');
  const netName = `nori-sbd-${suffix}`;
  const bridge = `nsd${suffix}`;
  const prefix = `nori-sbd-${suffix}`;
  let nori: NoriProcess | undefined;
  let subnet = '';

  async function start(dir?: string): Promise<NoriProcess> {
    return startNori({ dir, extraArgs: ['--cgroup-root-prefix', prefix, '--cni-bin-dir', PLUGINS] });
  }

  before(async function () {
    if (process.getuid?.() !== 0 || !cniPluginsPresent()) this.skip();
    const used = (await sh('ip', ['-4', 'addr'])) + (await sh('ip', ['-4', 'route']));
    do subnet = `10.233.${1 + Math.floor(Math.random() * 254)}.`;
    while (used.includes(subnet));
    nori = await start();
    writeFileSync(
      path.join(nori.cniConfDir, '10-sbd.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: netName,
        plugins: [{ type: 'bridge', bridge, isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: `${subnet}0/24` }]], dataDir: path.join(nori.dir, 'ipam') } }],
      }),
    );
  });

  after(async () => {
    if (!nori) return;
    try {
      for (const p of (await nori.client.call('ListPodSandbox', {})).items) await nori.client.call('RemovePodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
    } catch {
      // daemon gone
    }
    await nori.cleanup();
    if (existsSync(`/sys/class/net/${bridge}`)) await succeeds('ip', ['link', 'del', bridge]);
    assert.deepEqual(await removeMasqRules(netName), []);
  });

  const config = (name: string, extra: object = {}) => ({
    metadata: { name, namespace: 'wire', uid: `uid-${name}`, attempt: 1 },
    hostname: name,
    log_directory: '/tmp',
    labels: { app: name, 'weird key/é': 'välue\twith tab' },
    annotations: { 'anno/x': '{"json": true}' },
    ...extra,
  });

  it('runs, reports and lists pods; survives a restart; stop/remove twice; NotFound afterwards', async () => {
    const c = nori!.client;
    const { pod_sandbox_id: id } = await c.call('RunPodSandbox', { config: config('one') });
    assert.match(id, /^[0-9a-f]{64}$/);
    const other = (await c.call('RunPodSandbox', { config: config('two', { linux: { security_context: { namespace_options: { network: 'NODE' } } } }) })).pod_sandbox_id;

    await assert.rejects(c.call('RunPodSandbox', { config: config('one') }), (e: any) => e.code === ALREADY_EXISTS && e.details.includes(id));
    await assert.rejects(c.call('RunPodSandbox', { config: config('three'), runtime_handler: 'nope' }), (e: any) => e.code === INVALID_ARGUMENT && /runc/.test(e.details));

    const st = await c.call('PodSandboxStatus', { pod_sandbox_id: id, verbose: true });
    assert.equal(st.status.state, 'SANDBOX_READY');
    assert.deepEqual(st.status.labels, { app: 'one', 'weird key/é': 'välue\twith tab' });
    assert.deepEqual(st.status.annotations, { 'anno/x': '{"json": true}' });
    assert.deepEqual(st.status.metadata, { name: 'one', namespace: 'wire', uid: 'uid-one', attempt: 1 });
    assert.ok(st.status.network.ip.startsWith(subnet), st.status.network.ip);
    assert.equal(st.status.linux.namespaces.options.network, 'POD');
    assert.ok(Math.abs(st.status.created_at / 1e6 - Date.now()) < 60_000, `created_at ${st.status.created_at} is ns`);
    const info = JSON.parse(st.info.info);
    assert.ok(info.netnsPath.endsWith(id));
    assert.ok(info.pid > 0);
    assert.equal(info.cniResult.cniVersion, '1.0.0');

    const ids = async (filter: object) => (await c.call('ListPodSandbox', { filter })).items.map((p: any) => p.id).sort();
    assert.deepEqual(await ids({}), [id, other].sort());
    assert.deepEqual(await ids({ id: id.slice(0, 16) }), [id]);
    assert.deepEqual(await ids({ label_selector: { app: 'two' } }), [other]);
    await c.call('StopPodSandbox', { pod_sandbox_id: other });
    assert.deepEqual(await ids({ state: { state: 'SANDBOX_NOTREADY' } }), [other]);
    assert.deepEqual(await ids({ state: { state: 'SANDBOX_READY' } }), [id]);

    // restart: same dirs, everything back with the right state
    const dir = nori!.dir;
    nori!.client.close();
    assert.equal(await nori!.stop(), 0);
    nori = await start(dir);
    const c2 = nori.client;
    const items = (await c2.call('ListPodSandbox', {})).items;
    assert.deepEqual(Object.fromEntries(items.map((p: any) => [p.id, p.state])), { [id]: 'SANDBOX_READY', [other]: 'SANDBOX_NOTREADY' });
    const again = await c2.call('PodSandboxStatus', { pod_sandbox_id: id });
    assert.deepEqual(again.status.labels, st.status.labels);
    assert.equal(again.status.created_at, st.status.created_at);
    assert.equal(again.status.network.ip, st.status.network.ip);

    for (let i = 0; i < 2; i++) {
      await c2.call('StopPodSandbox', { pod_sandbox_id: id });
      await c2.call('RemovePodSandbox', { pod_sandbox_id: id });
      await c2.call('RemovePodSandbox', { pod_sandbox_id: other });
    }
    await c2.call('StopPodSandbox', { pod_sandbox_id: id });
    await assert.rejects(c2.call('PodSandboxStatus', { pod_sandbox_id: id }), (e: any) => e.code === NOT_FOUND);
    assert.deepEqual((await c2.call('ListPodSandbox', {})).items, []);
    assert.equal(existsSync(path.join(nori.state, 'ns', 'net', id)), false);
    assert.equal(existsSync(`/sys/fs/cgroup/memory/${prefix}`), false);
  });
});
