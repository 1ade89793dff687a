// Concurrency on a real bin/nori: 50 RunPodSandbox calls at once all succeed with distinct IPs
// and every one is in the store (also after a restart: no lost update); removing them at once
// leaves nothing. Parallel pulls of one image fetch each blob once and agree on the image.

import { strict as assert } from 'node:assert';
import { assertNoLeaks, snapshot } from '../../helpers/leaks';
import { canRun, privateNori, type PrivateNori } from './private_nori';

describe('concurrency (real daemon)', function () {
  this.timeout(600_000);
  let env: PrivateNori;

  before(async function () {
    if (!canRun()) this.skip();
    env = await privateNori({ fixtures: ['layers'] });
  });
  after(async () => env?.cleanup());

  it('50 parallel RunPodSandbox: all succeed, distinct IPs, all stored (across a restart), all removed in parallel', async () => {
    const base = await snapshot(env.nori);
    const n = 50;
    const configs = Array.from({ length: n }, (_, i) => env.podConfig(`par${i}`));
    const ids = await Promise.all(configs.map((config) => env.nori.client.call('RunPodSandbox', { config }).then((r) => r.pod_sandbox_id as string)));
    assert.equal(new Set(ids).size, n);
    const ips = await Promise.all(ids.map((id) => env.nori.client.call('PodSandboxStatus', { pod_sandbox_id: id }).then((r) => r.status.network.ip as string)));
    assert.equal(new Set(ips).size, n, `IPs: ${ips.join(' ')}`);
    for (const ip of ips) assert.ok(ip.startsWith(env.subnetPrefix), ip);

    // the store has every one: a restarted daemon lists them all, READY, with their IPs
    await env.restart();
    const listed = (await env.nori.client.call('ListPodSandbox', {})).items as { id: string; state: string }[];
    assert.deepEqual(listed.map((p) => p.id).sort(), [...ids].sort());
    assert.ok(listed.every((p) => p.state === 'SANDBOX_READY'));
    const ips2 = await Promise.all(ids.map((id) => env.nori.client.call('PodSandboxStatus', { pod_sandbox_id: id }).then((r) => r.status.network.ip as string)));
    assert.deepEqual(ips2, ips);

    await Promise.all(ids.map(async (id) => {
      await env.nori.client.call('StopPodSandbox', { pod_sandbox_id: id });
      await env.nori.client.call('RemovePodSandbox', { pod_sandbox_id: id });
    }));
    assert.deepEqual((await env.nori.client.call('ListPodSandbox', {})).items, []);
    await assertNoLeaks(env.nori, { baseline: base, settleMs: 10_000 });
  });

  it('8 parallel pulls of one image: one image id, each blob fetched once', async () => {
    const f = env.fx!.get('layers');
    const since = env.reg!.logs().length;
    const refs = Array.from({ length: 8 }, (_, i) => (i % 2 ? f.digestReference : f.reference));
    const res = await Promise.all(refs.map((image) => env.nori.client.call('PullImage', { image: { image } })));
    for (const r of res) assert.equal(r.image_ref, f.imageId);
    const log = env.reg!.logs().slice(since).split('\n');
    for (const l of f.layers) {
      const gets = log.filter((x) => x.includes(`blobs/${l.digest}`) && /method=GET/.test(x));
      assert.equal(gets.length, 1, `layer ${l.digest} fetched ${gets.length} times`);
    }
    const images = (await env.nori.client.call('ListImages', {})).images as { id: string; repo_tags: string[] }[];
    assert.equal(images.filter((i) => i.id === f.imageId).length, 1);
  });
});
