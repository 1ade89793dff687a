// The Stream* list calls on a store too large for the unary lists: 5,000 EXITED containers with
// 4 KiB labels (about 20 MiB as one ListContainers reply, over the 16 MiB limit) written into a
// stopped daemon's store, a restart (recovery must cope), then every item exactly once.

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ContainerConfig } from '../../../src/gen/api';
import { ContainerStore } from '../../../src/store/container_store';
import { openDb } from '../../../src/store/db';
import { SandboxStore } from '../../../src/store/sandbox_store';
import { startNori, type NoriProcess } from '../../helpers/daemon';

const RESOURCE_EXHAUSTED = 8;
const N = 5000;

describe('Stream* lists on 5,000 containers (root, real bin/nori)', function () {
  this.timeout(300_000);
  let nori: NoriProcess;
  let pod = '';
  const ids: string[] = [];

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    nori = await startNori();
    const config = { metadata: { name: 'bigpod', namespace: 'ns', uid: 'big-u', attempt: 0 }, linux: { security_context: { namespace_options: { network: 'NODE' } } } };
    ({ pod_sandbox_id: pod } = await nori.client.call('RunPodSandbox', { config }));
    await nori.stop();
    // Keep the sandbox row, but release what it holds on the host: the restarted daemon sees a
    // NOTREADY pod whose pins are gone, as after a reboot.
    let db = openDb(nori.root);
    const row = new SandboxStore(db).get(pod)!;
    db.close();
    nori = await startNori({ dir: nori.dir });
    await nori.client.call('RemovePodSandbox', { pod_sandbox_id: pod });
    await nori.stop();
    db = openDb(nori.root);
    const sandboxes = new SandboxStore(db);
    assert.ok(sandboxes.insert({ ...row, state: 'CREATING' }).ok);
    sandboxes.update(pod, { state: 'NOTREADY', networkTornDown: true });
    const store = new ContainerStore(db);
    const big = 'x'.repeat(4096);
    const t = BigInt(Date.now()) * 1_000_000n;
    db.exec('BEGIN');
    for (let i = 0; i < N; i++) {
      const id = randomBytes(32).toString('hex');
      ids.push(id);
      store.insert({
        id, sandboxId: pod, nameKey: `c${i}_bigpod_ns_big-u_0`, imageRef: 'busybox', imageId: 'sha256:' + '0'.repeat(64),
        config: ContainerConfig.fromPartial({ metadata: { name: `c${i}` }, image: { image: 'busybox' }, labels: { big, i: String(i), group: i % 10 === 0 ? 'ten' : 'rest' } }),
        handler: 'runc', bundle: join(nori.state, 'containers', id), logPath: '', cgroupPath: '', stopSignal: '', userJson: '',
        createdAt: t + BigInt(i), startedAt: t + BigInt(i) + 1n, finishedAt: t + BigInt(i) + 2n, exitCode: 0, reason: 'Completed', message: '',
        pid: 0, unknown: false, resources: '',
      });
    }
    db.exec('COMMIT');
    db.close();
    const started = Date.now();
    nori = await startNori({ dir: nori.dir, timeoutMs: 120_000 });
    console.log(`      (restart with ${N} containers ready in ${Date.now() - started} ms)`);
  });

  after(async () => nori?.cleanup());

  it('recovery kept the records: the NOTREADY pod and its EXITED containers', async () => {
    const pods = await nori.client.call('ListPodSandbox', {});
    assert.deepEqual(pods.items.map((p: any) => [p.id, p.state]), [[pod, 'SANDBOX_NOTREADY']]);
    const some = await nori.client.call('ListContainers', { filter: { label_selector: { group: 'ten' } } });
    assert.equal(some.containers.length, N / 10);
    assert.ok(some.containers.every((c: any) => c.state === 'CONTAINER_EXITED'));
  });

  it('the unary ListContainers exceeds the 16 MiB limit', async () => {
    await assert.rejects(nori.client.call('ListContainers', {}), (e: any) => e.code === RESOURCE_EXHAUSTED);
  });

  it('StreamContainers returns every container exactly once, in chunks below 4 MiB', async () => {
    const msgs = await nori.client.stream('StreamContainers', {});
    assert.ok(msgs.length >= 5, `${msgs.length} chunks`);
    const got = msgs.flatMap((m) => m.containers.map((c: any) => c.id));
    assert.equal(got.length, N);
    assert.deepEqual(new Set(got), new Set(ids));
    for (const m of msgs) assert.ok(JSON.stringify(m).length < 4 * 1024 * 1024, 'each chunk is well below 4 MiB');
    const filtered = await nori.client.stream('StreamContainers', { filter: { label_selector: { group: 'ten' } } });
    assert.equal(new Set(filtered.flatMap((m) => m.containers.map((c: any) => c.labels.i))).size, N / 10);
    assert.equal(filtered.flatMap((m) => m.containers).length, N / 10);
  });

  it('StreamContainerStats, StreamPodSandboxes and StreamImages: every item once', async () => {
    const stats = (await nori.client.stream('StreamContainerStats', {})).flatMap((m) => m.container_stats.map((s: any) => s.attributes.id));
    assert.equal(stats.length, N);
    assert.deepEqual(new Set(stats), new Set(ids));
    const one = (await nori.client.stream('StreamContainerStats', { filter: { id: ids[7] } })).flatMap((m) => m.container_stats);
    assert.deepEqual(one.map((s: any) => s.attributes.id), [ids[7]]);
    const pods = (await nori.client.stream('StreamPodSandboxes', {})).flatMap((m) => m.pod_sandboxes.map((p: any) => p.id));
    assert.deepEqual(pods, [pod]);
    assert.deepEqual((await nori.client.stream('StreamPodSandboxes', { filter: { state: { state: 'SANDBOX_READY' } } })).flatMap((m) => m.pod_sandboxes), []);
    const images = await nori.client.stream('StreamImages', {});
    const unary = await nori.client.call('ListImages', {});
    assert.deepEqual(images.flatMap((m) => m.images.map((i: any) => i.id)), unary.images.map((i: any) => i.id));
    // NOTREADY pods have no stats; the stream still ends cleanly.
    assert.deepEqual((await nori.client.stream('StreamPodSandboxStats', {})).flatMap((m) => m.pod_sandbox_stats), []);
  });
});
