// The ImageLookup containers use, in-process over a real store: merged reads honour whiteouts
// and opaque dirs, and a container layer mounted as overlay shows the expected merged tree.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../../src/config';
import { imageSubsystem, type ImageSubsystem } from '../../../src/cri/image_subsystem';
import { silentLogger } from '../../../src/log';
import { Metrics } from '../../../src/metrics';
import { openDb, type Db } from '../../../src/store/db';
import { getSys, MNT } from '../../../src/sys';
import { loadFixtures, pushFixtures, startRegistry, type PushedFixtures, type TestRegistry } from '../../helpers/registry';
import { comparable, walkTree } from './tree';
import { layerDirs } from '../../helpers/overlay';

describe('image lookup for containers (integration)', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let fx: PushedFixtures;
  let dir: string;
  let db: Db;
  let images: ImageSubsystem;
  const call = (rpc: string, req: object) =>
    (images.handlers[rpc] as (r: object, c: object) => Promise<any>)(req, { requestId: 't', rpc, log: silentLogger(), signal: new AbortController().signal });

  before(async () => {
    reg = await startRegistry();
    fx = await pushFixtures(reg, { names: ['layers', 'user-name'] });
    dir = fs.mkdtempSync(join(tmpdir(), 'nori-lookup-'));
    const config = { ...defaultConfig(), root: join(dir, 'root'), registriesConf: '/nonexistent', authFile: '/nonexistent' };
    db = openDb(config.root);
    images = imageSubsystem({ config, db, log: silentLogger(), metrics: new Metrics({ processMetrics: false }), sys: getSys() });
    await images.recover!();
    await call('PullImage', { image: { image: fx.get('layers').reference } });
  });
  after(async () => {
    await images?.close?.();
    db?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    await reg?.stop();
  });

  it('resolves by tag, id, id prefix and short forms', () => {
    const f = fx.get('layers');
    for (const ref of [f.reference, f.imageId, f.imageId.slice(7, 20), f.digestReference]) {
      assert.equal(images.lookup.resolve(ref)?.id, f.imageId, ref);
    }
    assert.equal(images.lookup.resolve('nothing/here'), undefined);
  });

  it('reads files through the layers as overlayfs would', async () => {
    const id = fx.get('layers').imageId;
    const merged = loadFixtures().layersExpected().merged;
    for (const e of merged.filter((x) => x.type === 'file' && x.content !== undefined)) {
      const got = await images.lookup.readImageFile(id, `/${e.path}`);
      assert.equal(got?.toString('utf8'), e.content, e.path);
    }
    for (const gone of ['del-file', 'a/keep', 'del-dir/sub', 'nope']) {
      assert.equal(await images.lookup.readImageFile(id, gone), null, gone);
    }
  });

  it('creates a container layer whose overlay mount shows the merged image', async () => {
    const id = fx.get('layers').imageId;
    const layer = await images.lookup.createContainerLayer('c1', id);
    assert.deepEqual(await images.lookup.createContainerLayer('c1', id), layer, 'idempotent');
    const target = join(dir, 'merged');
    fs.mkdirSync(target);
    const cwd = process.cwd();
    process.chdir(layer.mountCwd || '/');
    try {
      getSys().mount('overlay', target, 'overlay', 0, `lowerdir=${layer.lowerdir},upperdir=${layer.upperdir},workdir=${layer.workdir}`);
    } finally {
      process.chdir(cwd);
    }
    try {
      const want = loadFixtures().layersExpected().merged.map(comparable).filter((e) => e.path !== '');
      const got = walkTree(target);
      assert.deepEqual(got.map((e) => e.path), want.map((e) => e.path));
      assert.deepEqual(got, want);
      fs.writeFileSync(join(target, 'new-file'), '12345');
      // measured in the background: the sample catches up with the new file
      for (;;) {
        const u = await images.lookup.containerLayerUsage('c1');
        if (u && u.bytes >= 5 && u.inodes >= 1) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      getSys().umount2(target, MNT.MNT_DETACH);
    }
    // an image in use cannot be removed
    await assert.rejects(call('RemoveImage', { image: { image: id } }), /in use/);
    await images.lookup.removeContainerLayer('c1');
    await images.lookup.removeContainerLayer('c1');
    assert.equal(fs.existsSync(layer.upperdir), false);
    await call('RemoveImage', { image: { image: id } });
    assert.equal(images.lookup.resolve(id), undefined);
    assert.deepEqual(layerDirs(join(dir, 'root')), []);
  });

  it('shares layers between concurrent pulls of the same image', async () => {
    const f = fx.get('user-name');
    const [a, b] = await Promise.all([call('PullImage', { image: { image: f.reference } }), call('PullImage', { image: { image: f.digestReference } })]);
    assert.equal(a.imageRef, f.imageId);
    assert.equal(b.imageRef, f.imageId);
    const reqs = reg.logs().split('\n').filter((l) => l.includes(`blobs/${f.layers[0]!.digest}`) && /method=GET/.test(l) && /useragent=node/.test(l));
    assert.equal(reqs.length, 1, `blob fetched ${reqs.length} times:\n${reqs.join('\n')}`);
  });
});
