// Pulls through a misbehaving registry: transient failures are retried with backoff, a stalled
// blob fails the pull after the progress timeout, and nothing is left behind either way.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { startNori, type NoriProcess } from '../../helpers/daemon';
import { pushFixtures, startRegistry, type PushedFixture, type TestRegistry } from '../../helpers/registry';
import { startFaultProxy, type FaultAction, type FaultProxy, type ProxiedRequest } from './fault_proxy';
import { layerDirs } from '../../helpers/overlay';

function assertNothingLeft(nori: NoriProcess): void {
  assert.deepEqual(layerDirs(nori.root), [], 'no layer dirs');
  assert.deepEqual(fs.readdirSync(join(nori.root, 'overlay2', 'tmp')), [], 'no temp dirs');
  assert.deepEqual(fs.readdirSync(join(nori.root, 'overlay2', 'l')), [], 'no links');
}

describe('image pulls through a faulty registry (integration)', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let f: PushedFixture;
  let nori: NoriProcess;
  let proxy: FaultProxy | undefined;
  let plan: (r: ProxiedRequest) => FaultAction = () => 'pass';

  before(async () => {
    reg = await startRegistry();
    f = (await pushFixtures(reg, { names: ['busybox'] })).get('busybox');
    nori = await startNori({ extraArgs: ['--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json', '--pull-progress-timeout', '3'] });
  });
  beforeEach(async () => {
    plan = () => 'pass';
    proxy = await startFaultProxy(reg.host, (r) => plan(r));
  });
  afterEach(async () => {
    await nori.client.call('RemoveImage', { image: { image: f.imageId } }).catch(() => undefined);
    await proxy?.stop();
  });
  after(async () => {
    await nori?.cleanup();
    await reg?.stop();
  });

  const layer = () => f.layers[0]!.digest;
  const ref = () => `${proxy!.host}/${f.repository}:${f.tag}`;
  const pull = () => nori.client.call('PullImage', { image: { image: ref() } }, { deadlineMs: 60_000 });
  const requestsFor = (digest: string) => proxy!.seen.filter((r) => r.path.endsWith(`/blobs/${digest}`));

  it('retries the config and a layer that fail with 503, backing off', async () => {
    plan = (r) => ((r.path.endsWith(f.imageId) && r.nth === 1) || (r.path.endsWith(layer()) && r.nth <= 2) ? '503' : 'pass');
    const t0 = Date.now();
    const res = await pull();
    assert.equal(res.image_ref, f.imageId);
    assert.deepEqual(requestsFor(layer()).map((r) => r.action), ['503', '503', 'pass']);
    assert.deepEqual(requestsFor(f.imageId).map((r) => r.action), ['503', 'pass']);
    // backoff of at least 0.375 s + 0.75 s between the layer attempts
    assert.ok(Date.now() - t0 >= 1100, `took ${Date.now() - t0} ms`);
    assert.deepEqual(fs.readdirSync(join(nori.root, 'overlay2', 'tmp')), []);
  });

  it('retries a layer whose connection resets mid-body', async () => {
    plan = (r) => (r.path.endsWith(layer()) && r.nth === 1 ? 'reset' : 'pass');
    const res = await pull();
    assert.equal(res.image_ref, f.imageId);
    assert.deepEqual(requestsFor(layer()).map((r) => r.action), ['reset', 'pass']);
    assert.deepEqual(fs.readdirSync(join(nori.root, 'overlay2', 'tmp')), []);
  });

  it('gives up after three attempts with UNAVAILABLE and leaves nothing', async () => {
    plan = (r) => (r.path.endsWith(layer()) ? '503' : 'pass');
    await assert.rejects(pull(), (e: any) => e.code === 14 && /HTTP 503/.test(e.details));
    assert.equal(requestsFor(layer()).length, 3);
    assertNothingLeft(nori);
    assert.equal((await nori.client.call('ImageStatus', { image: { image: ref() } })).image, null);
  });

  it('fails a stalled blob after the progress timeout with a clear message, shows progress meanwhile, and leaves nothing', async () => {
    plan = (r) => (r.path.endsWith(layer()) ? 'stall' : 'pass');
    const t0 = Date.now();
    const pulling = pull().then(
      () => assert.fail('a stalled pull succeeded'),
      (e: any) => e,
    );
    let sawProgress = false;
    let settled = false;
    void pulling.finally(() => (settled = true));
    const image = ref();
    while (!settled && !sawProgress) {
      const text = await (await fetch(`http://127.0.0.1:${nori.metricsPort}/metrics`)).text();
      const done = new RegExp(`nori_image_pull_progress_bytes\\{image="${image}"\\} (\\d+)`).exec(text);
      const want = new RegExp(`nori_image_pull_expected_bytes\\{image="${image}"\\} (\\d+)`).exec(text);
      if (done && Number(done[1]) > 0) {
        assert.equal(Number(want?.[1]), f.layersSize);
        assert.ok(Number(done[1]) < f.layersSize);
        assert.match(text, /nori_image_pulls_in_progress 1/);
        sawProgress = true;
      } else {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.ok(sawProgress, 'the metrics showed the running pull');
    const err = await pulling;
    const ms = Date.now() - t0;
    assert.equal(err.code, 4, err.message);
    assert.match(err.details, /no progress for 3 s/);
    assert.ok(ms >= 2900 && ms < 15_000, `failed after ${ms} ms`);
    assertNothingLeft(nori);
    const after = await (await fetch(`http://127.0.0.1:${nori.metricsPort}/metrics`)).text();
    assert.doesNotMatch(after, new RegExp(`nori_image_pull_progress_bytes\\{image="${image}"\\}`), 'the finished pull left its gauge');
  });
});
