// Image service end to end: a real nori pulls the fixtures from a real docker-registry.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { startNori, type NoriProcess } from '../../helpers/daemon';
import { loadFixtures, pushFixtures, startRegistry, type PushedFixtures, type TestRegistry } from '../../helpers/registry';
import { comparable, walkTree } from './tree';
import { layerDirs } from '../../helpers/overlay';

describe('image service (integration)', function () {
  this.timeout(180_000);
  let reg: TestRegistry;
  let fx: PushedFixtures;
  let nori: NoriProcess;

  before(async () => {
    reg = await startRegistry();
    fx = await pushFixtures(reg);
    nori = await startNori({ extraArgs: ['--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json'] });
  });
  after(async () => {
    await nori?.cleanup();
    await reg?.stop();
  });

  const pull = (image: string, auth?: object) => nori.client.call('PullImage', { image: { image }, ...(auth ? { auth } : {}) });
  const status = (image: string, verbose = false) => nori.client.call('ImageStatus', { image: { image }, verbose });

  it('pulls busybox and reports one id across PullImage, ListImages and ImageStatus', async () => {
    const f = fx.get('busybox');
    const res = await pull(f.reference);
    assert.equal(res.image_ref, f.imageId);
    const list = await nori.client.call('ListImages', {});
    const img = list.images.find((i: any) => i.id === f.imageId);
    assert.ok(img, 'listed');
    assert.deepEqual(img.repo_tags, [f.reference]);
    assert.deepEqual(img.repo_digests, [f.digestReference]);
    assert.equal(Number(img.size), f.layersSize ?? f.layers.reduce((a, l) => a + l.size, 0));
    for (const ref of [f.imageId, f.imageId.slice(7), f.imageId.slice(7, 19), f.reference, f.digestReference]) {
      const s = await status(ref);
      assert.equal(s.image?.id, f.imageId, `ImageStatus(${ref})`);
    }
    const filtered = await nori.client.call('ListImages', { filter: { image: { image: f.reference } } });
    assert.deepEqual(filtered.images.map((i: any) => i.id), [f.imageId]);
    const bin = fs.readdirSync(join(nori.root, 'overlay2', 'l'));
    assert.ok(bin.length >= 1);
  });

  it('answers ImageStatus for an unknown image with an empty response', async () => {
    const s = await status(reg.ref('nori-test/nothing:1'));
    assert.equal(s.image, null);
  });

  it('rejects invalid references with INVALID_ARGUMENT', async () => {
    await assert.rejects(pull('UPPER/Case::x'), (e: any) => e.code === 3);
  });

  it('unpacks the layers fixture exactly (whiteouts, opaque dirs, hard links, xattrs, devices)', async () => {
    const f = fx.get('layers');
    const res = await pull(f.reference);
    assert.equal(res.image_ref, f.imageId);
    const s = await status(f.imageId, true);
    const info = JSON.parse(s.info.info);
    const expected = loadFixtures().layersExpected();
    assert.equal(info.layerDirs.length, expected.layers.length);
    expected.layers.forEach((layer, i) => {
      const got = walkTree(info.layerDirs[i]);
      const want = layer.overlayDiff.map(comparable);
      assert.deepEqual(got.map((e) => e.path), want.map((e) => e.path), `layer ${i} paths`);
      assert.deepEqual(got, want, `layer ${i} tree`);
    });
  });

  it('reports uid and username from the config User', async () => {
    const cases: Array<[Parameters<PushedFixtures['get']>[0], number | null, string]> = [
      ['user-uid', 1002, ''],
      ['user-name', null, 'www-data'],
      ['user-uid-gid', 1003, ''],
      ['user-name-gid', null, 'www-data'],
    ];
    for (const [name, uid, username] of cases) {
      const f = fx.get(name);
      await pull(f.reference);
      const s = await status(f.reference);
      assert.equal(s.image.id, f.imageId);
      assert.equal(s.image.uid === null ? null : Number(s.image.uid.value), uid, name);
      assert.equal(s.image.username, username, name);
    }
  });

  for (const name of ['multiarch', 'docker-v2s2', 'docker-list', 'zstd', 'uncompressed', 'web'] as const) {
    it(`pulls the ${name} fixture`, async () => {
      const f = fx.get(name);
      const res = await pull(f.reference);
      assert.equal(res.image_ref, f.imageId);
      const byDigest = await pull(f.digestReference);
      assert.equal(byDigest.image_ref, f.imageId);
    });
  }

  it('removes an image with all its names, frees its layers, and is idempotent', async () => {
    // the layers fixture shares no layer with the others
    const f = fx.get('layers');
    await pull(f.reference);
    const before = layerDirs(nori.root).length;
    await nori.client.call('RemoveImage', { image: { image: f.reference } });
    assert.equal((await status(f.imageId)).image, null);
    assert.equal((await status(f.digestReference)).image, null);
    assert.equal(layerDirs(nori.root).length, before - f.layers.length, 'its layer dirs were removed');
    await nori.client.call('RemoveImage', { image: { image: f.reference } });
    await nori.client.call('RemoveImage', { image: { image: f.imageId } });
  });

  it('reports image filesystem usage', async () => {
    const r = await nori.client.call('ImageFsInfo', {});
    assert.equal(r.image_filesystems.length, 1);
    assert.ok(Number(r.image_filesystems[0].used_bytes.value) > 1_000_000);
    assert.ok(Number(r.image_filesystems[0].inodes_used.value) > 10);
    assert.equal(r.image_filesystems[0].fs_id.mountpoint, join(nori.root, 'overlay2'));
    assert.equal(r.container_filesystems.length, 1);
  });

  it('serves pull metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${nori.metricsPort}/metrics`)).text();
    assert.match(text, /nori_image_pulls_total\{registry="127\.0\.0\.1:\d+",result="success"\} \d+/);
    assert.match(text, /nori_image_pull_bytes_total \d+/);
    assert.match(text, /nori_image_pull_duration_seconds_count/);
    assert.match(text, /nori_image_pulls_in_progress 0/);
  });

  it('cleans temp dirs and unrecorded layers at restart', async () => {
    const o2 = join(nori.root, 'overlay2');
    await nori.stop();
    fs.mkdirSync(join(o2, 'tmp', 'layer-crashed', 'diff'), { recursive: true });
    const orphan = join(o2, 'f'.repeat(64));
    fs.mkdirSync(join(orphan, 'diff'), { recursive: true });
    nori = await startNori({ dir: nori.dir, extraArgs: ['--registries-conf', '/nonexistent/registries.conf'] });
    assert.deepEqual(fs.readdirSync(join(o2, 'tmp')), []);
    assert.equal(fs.existsSync(orphan), false);
    const s = await status(fx.get('busybox').reference);
    assert.equal(s.image.id, fx.get('busybox').imageId);
  });
});

describe('image service: corrupt and truncated blobs (integration)', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let nori: NoriProcess;
  before(async () => {
    reg = await startRegistry();
    nori = await startNori({ extraArgs: ['--registries-conf', '/nonexistent/registries.conf'] });
  });
  after(async () => {
    await nori?.cleanup();
    await reg?.stop();
  });

  for (const how of ['corrupt', 'truncated'] as const) {
    it(`refuses a ${how} layer blob and leaves nothing behind`, async () => {
      const f = loadFixtures().get('busybox');
      await reg.push('busybox', `nori-test/${how}:1`);
      const blob = reg.blobPath(f.layers[0]!.digest);
      const data = fs.readFileSync(blob);
      if (how === 'corrupt') data[data.length >> 1] ^= 0xff;
      fs.writeFileSync(blob, how === 'corrupt' ? data : data.subarray(0, data.length - 1000));
      await assert.rejects(nori.client.call('PullImage', { image: { image: reg.ref(`nori-test/${how}:1`) } }));
      const o2 = join(nori.root, 'overlay2');
      assert.deepEqual(layerDirs(nori.root), []);
      assert.deepEqual(fs.readdirSync(join(o2, 'tmp')), []);
      assert.deepEqual(fs.readdirSync(join(o2, 'l')), []);
      const list = await nori.client.call('ListImages', {});
      assert.equal(list.images.length, 0);
      fs.writeFileSync(blob, how === 'corrupt' ? (data[data.length >> 1] ^= 0xff, data) : data);
    });
  }

  it('refuses an image with one corrupt layer among several and keeps none of its layers', async () => {
    const f = loadFixtures().get('layers');
    await reg.push('layers', 'nori-test/corrupt-layers:1');
    const blob = reg.blobPath(f.layers[1]!.digest);
    const data = fs.readFileSync(blob);
    data[100] ^= 0xff;
    fs.writeFileSync(blob, data);
    await assert.rejects(nori.client.call('PullImage', { image: { image: reg.ref('nori-test/corrupt-layers:1') } }));
    assert.deepEqual(layerDirs(nori.root), []);
    assert.deepEqual(fs.readdirSync(join(nori.root, 'overlay2', 'tmp')), []);
  });
});

describe('image service: registry auth (integration)', function () {
  this.timeout(120_000);
  for (const auth of ['basic', 'token'] as const) {
    describe(auth, () => {
      let reg: TestRegistry;
      let nori: NoriProcess;
      let ref: string;
      before(async () => {
        reg = await startRegistry({ auth });
        await reg.push('busybox', 'nori-test/private:1');
        ref = reg.ref('nori-test/private:1');
        nori = await startNori({ extraArgs: ['--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json'] });
      });
      after(async () => {
        await nori?.cleanup();
        await reg?.stop();
      });
      it('fails without credentials', async () => {
        await assert.rejects(nori.client.call('PullImage', { image: { image: ref } }));
      });
      it('pulls with the CRI AuthConfig (username/password and auth) and never logs the password', async () => {
        const { username, password } = reg.credentials!;
        const r = await nori.client.call('PullImage', { image: { image: ref }, auth: { username, password } });
        assert.equal(r.image_ref, loadFixtures().get('busybox').imageId);
        await nori.client.call('RemoveImage', { image: { image: ref } });
        const r2 = await nori.client.call('PullImage', { image: { image: ref }, auth: { auth: Buffer.from(`${username}:${password}`).toString('base64') } });
        assert.equal(r2.image_ref, r.image_ref);
        assert.ok(!JSON.stringify(nori.logs).includes(password));
      });
      it('pulls with the node-wide auth file', async () => {
        await nori.stop();
        nori = await startNori({ dir: nori.dir, extraArgs: ['--registries-conf', '/nonexistent/registries.conf', '--auth-file', reg.authFile!] });
        await nori.client.call('RemoveImage', { image: { image: ref } });
        const r = await nori.client.call('PullImage', { image: { image: ref } });
        assert.equal(r.image_ref, loadFixtures().get('busybox').imageId);
      });
    });
  }
});
