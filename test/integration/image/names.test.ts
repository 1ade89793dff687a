// How images are named and found: registries.conf mirrors and blocked registries, digest and
// tag+digest references, and RemoveImage by each kind of name, also concurrently.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { startNori, type NoriProcess } from '../../helpers/daemon';
import { pushFixtures, startRegistry, type PushedFixture, type TestRegistry } from '../../helpers/registry';
import { layerDirs } from '../../helpers/overlay';

describe('image names, mirrors and removal (integration)', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let f: PushedFixture;
  let nori: NoriProcess;
  let confDir: string;
  let closedPort: number;

  before(async () => {
    reg = await startRegistry();
    f = (await pushFixtures(reg, { names: ['busybox'] })).get('busybox');
    confDir = fs.mkdtempSync('/tmp/nori-names-');
    // a port nothing listens on: bind, note, close
    const { createServer } = await import('node:net');
    closedPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    fs.writeFileSync(
      join(confDir, 'registries.conf'),
      [
        '[[registry]]',
        'prefix = "mirrored.invalid"',
        'location = "mirrored.invalid"',
        '[[registry.mirror]]',
        `location = "127.0.0.1:${closedPort}"`,
        'insecure = true',
        '[[registry.mirror]]',
        `location = "${reg.host}"`,
        'insecure = true',
        '',
        '[[registry]]',
        'prefix = "blocked.invalid"',
        'location = "blocked.invalid"',
        'blocked = true',
        '',
      ].join('\n'),
    );
    nori = await startNori({ extraArgs: ['--registries-conf', join(confDir, 'registries.conf'), '--auth-file', '/nonexistent/auth.json', '--pinned-images', 'mirrored.invalid/*'] });
  });
  after(async () => {
    await nori?.cleanup();
    await reg?.stop();
    if (confDir) fs.rmSync(confDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    for (const img of (await nori.client.call('ListImages', {})).images) await nori.client.call('RemoveImage', { image: { image: img.id } });
  });

  const pull = (image: string) => nori.client.call('PullImage', { image: { image } });
  const status = async (image: string) => (await nori.client.call('ImageStatus', { image: { image } })).image;

  it('tries the mirrors in order: the first is down, the second serves, the name stays', async () => {
    const name = `mirrored.invalid/${f.repository}:${f.tag}`;
    const r = await pull(name);
    assert.equal(r.image_ref, f.imageId);
    const s = await status(name);
    assert.deepEqual(s.repo_tags, [name]);
    assert.equal(s.pinned, true, 'pinned-images names mirrored.invalid/*');
    const listed = (await nori.client.call('ListImages', {})).images.find((i: any) => i.id === f.imageId);
    assert.equal(listed.pinned, true);
    assert.deepEqual(s.repo_digests, [`mirrored.invalid/${f.repository}@${f.digest}`]);
    assert.ok(reg.logs().includes(`/v2/${f.repository}/manifests/${f.tag}`), 'the mirror kept the repository path');
  });

  it('refuses a blocked registry with a clear error', async () => {
    await assert.rejects(pull(`blocked.invalid/${f.repository}:${f.tag}`), (e: any) => /blocked/.test(e.details) && e.code !== 2);
  });

  it('pulls by digest and by tag+digest, to the same id', async () => {
    const byDigest = `${reg.host}/${f.repository}@${f.digest}`;
    assert.equal((await pull(byDigest)).image_ref, f.imageId);
    assert.equal((await status(byDigest))?.id, f.imageId);
    assert.equal((await status(byDigest))?.pinned, false);
    const tagDigest = `${reg.host}/${f.repository}:${f.tag}@${f.digest}`;
    assert.equal((await pull(tagDigest)).image_ref, f.imageId);
    assert.equal((await status(tagDigest))?.id, f.imageId);
    assert.equal((await nori.client.call('ListImages', {})).images.length, 1);
  });

  it('refuses a tag+digest whose digest the registry does not have', async () => {
    const wrong = `${reg.host}/${f.repository}:${f.tag}@sha256:${'0'.repeat(64)}`;
    await assert.rejects(pull(wrong), (e: any) => e.code === 5);
    assert.equal((await nori.client.call('ListImages', {})).images.length, 0);
  });

  for (const by of ['tag', 'digest', 'id', 'id prefix'] as const) {
    it(`removes by ${by}, with every name and layer`, async () => {
      await pull(f.reference);
      const name = { tag: f.reference, digest: f.digestReference, id: f.imageId, 'id prefix': f.imageId.slice(7, 19) }[by];
      await nori.client.call('RemoveImage', { image: { image: name } });
      assert.equal(await status(f.reference), null);
      assert.equal(await status(f.digestReference), null);
      assert.equal(await status(f.imageId), null);
      assert.deepEqual(layerDirs(nori.root), []);
    });
  }

  it('survives concurrent removes of one image by different names', async () => {
    await pull(f.reference);
    const names = [f.reference, f.digestReference, f.imageId, f.reference, f.imageId, f.digestReference];
    const results = await Promise.allSettled(names.map((image) => nori.client.call('RemoveImage', { image: { image } })));
    assert.deepEqual(results.map((r) => r.status), names.map(() => 'fulfilled'), JSON.stringify(results.filter((r) => r.status === 'rejected')));
    assert.equal(await status(f.imageId), null);
    assert.deepEqual(layerDirs(nori.root), []);
    assert.deepEqual(fs.readdirSync(join(nori.root, 'overlay2', 'l')), []);
    // and the image comes back whole
    assert.equal((await pull(f.reference)).image_ref, f.imageId);
  });

  it('removes concurrently with a pull of the same image without breaking either', async () => {
    await pull(f.reference);
    const [, pulled] = await Promise.all([nori.client.call('RemoveImage', { image: { image: f.imageId } }), pull(f.reference)]);
    assert.equal(pulled.image_ref, f.imageId);
    // whichever came last, the store and the disk agree
    const s = await status(f.imageId);
    if (s) {
      const st = await nori.client.call('ImageStatus', { image: { image: f.imageId }, verbose: true });
      for (const d of JSON.parse(st.info.info).layerDirs as string[]) assert.ok(fs.existsSync(d), `${d} exists`);
    } else {
      assert.deepEqual(layerDirs(nori.root), []);
    }
  });
});
