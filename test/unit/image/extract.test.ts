import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extractLayer } from '../../../src/image/extract';
import { readTar } from '../../../src/image/tar_reader';
import { getSys } from '../../../src/sys';
import { buildTar, longName, type TEntry } from './tar_builder';

describe('layer extraction', () => {
  let base: string;
  let root: string;
  beforeEach(() => {
    base = fs.mkdtempSync(join(tmpdir(), 'nori-x-'));
    root = join(base, 'diff');
    fs.mkdirSync(root);
  });
  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  const run = (entries: TEntry[]) => extractLayer(readTar(Readable.from([buildTar(entries)])), root, getSys());
  const outside = () => fs.readdirSync(base).filter((n) => n !== 'diff');

  it('unpacks files, dirs, symlinks, hard links, devices and fifos with owners, modes and times', async () => {
    const stats = await run([
      { path: 'd/', type: '5', mode: 0o1777, mtime: 1_100_000_000 },
      { path: 'd/f', data: 'hello', mode: 0o4755, uid: 1000, gid: 1001, mtime: 1_200_000_000 },
      { path: 'd/sym', type: '2', linkname: '/etc/passwd', uid: 5, gid: 6 },
      { path: 'd/hard', type: '1', linkname: 'd/f' },
      { path: 'dev/null', type: '3', devmajor: 1, devminor: 3, mode: 0o666 },
      { path: 'dev/loop', type: '4', devmajor: 7, devminor: 0, mode: 0o660 },
      { path: 'fifo', type: '6', mode: 0o600 },
      { path: 'x', data: 'x', pax: { 'SCHILY.xattr.user.k': 'v\u0001', mtime: '1300000000.5' } },
    ]);
    const f = fs.lstatSync(join(root, 'd/f'));
    assert.equal(f.mode & 0o7777, 0o4755);
    assert.equal(f.uid, 1000);
    assert.equal(f.gid, 1001);
    assert.equal(Math.floor(f.mtimeMs / 1000), 1_200_000_000);
    assert.equal(fs.readFileSync(join(root, 'd/f'), 'utf8'), 'hello');
    assert.equal(fs.lstatSync(join(root, 'd')).mode & 0o7777, 0o1777);
    assert.equal(Math.floor(fs.lstatSync(join(root, 'd')).mtimeMs / 1000), 1_100_000_000, 'dir mtime set after its content');
    assert.equal(fs.readlinkSync(join(root, 'd/sym')), '/etc/passwd');
    assert.equal(fs.lstatSync(join(root, 'd/sym')).uid, 5);
    assert.equal(fs.lstatSync(join(root, 'd/hard')).ino, f.ino);
    const n = fs.lstatSync(join(root, 'dev/null'));
    assert.ok(n.isCharacterDevice());
    assert.equal(n.rdev, (1 << 8) | 3);
    assert.ok(fs.lstatSync(join(root, 'dev/loop')).isBlockDevice());
    assert.ok(fs.lstatSync(join(root, 'fifo')).isFIFO());
    assert.equal(getSys().lgetxattr(join(root, 'x'), 'user.k')?.toString(), 'v\u0001');
    assert.equal(fs.lstatSync(join(root, 'x')).mtimeMs, 1_300_000_000_500);
    assert.equal(stats.bytes, 6);
  });

  it('reads GNU long names and pax paths', async () => {
    const long = `${'a'.repeat(120)}/${'b'.repeat(120)}`;
    await run([longName(long), { path: 'ignored', data: 'gnu' }, { path: 'short', data: 'pax', pax: { path: `p/${'c'.repeat(150)}` } }]);
    assert.equal(fs.readFileSync(join(root, long), 'utf8'), 'gnu');
    assert.equal(fs.readFileSync(join(root, 'p', 'c'.repeat(150)), 'utf8'), 'pax');
  });

  it('turns OCI whiteouts into overlay whiteouts and opaque markers into the xattr', async () => {
    await run([{ path: 'a/.wh.gone' }, { path: 'o/.wh..wh..opq' }, { path: '.wh.top' }]);
    const w = fs.lstatSync(join(root, 'a/gone'));
    assert.ok(w.isCharacterDevice());
    assert.equal(w.rdev, 0);
    assert.ok(fs.lstatSync(join(root, 'top')).isCharacterDevice());
    assert.equal(getSys().lgetxattr(join(root, 'o'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(fs.existsSync(join(root, 'a/.wh.gone')), false);
  });

  describe('hostile archives', () => {
    it('rejects ".." components', async () => {
      await assert.rejects(run([{ path: '../escape', data: 'x' }]), /"\.\." component/);
      await assert.rejects(run([{ path: 'a/../../escape', data: 'x' }]), /"\.\." component/);
      assert.deepEqual(outside(), []);
    });

    it('keeps absolute paths inside the layer', async () => {
      await run([{ path: '/abs/file', data: 'x' }]);
      assert.equal(fs.readFileSync(join(root, 'abs/file'), 'utf8'), 'x');
      assert.deepEqual(outside(), []);
    });

    it('never writes through a symlinked parent', async () => {
      await assert.rejects(run([{ path: 'link', type: '2', linkname: base }, { path: 'link/evil', data: 'x' }]), /not a directory/);
      await assert.rejects(run([{ path: 'up', type: '2', linkname: '..' }, { path: 'up/evil', data: 'x' }]), /not a directory/);
      assert.deepEqual(outside(), []);
    });

    it('replaces a symlink instead of writing through it', async () => {
      fs.writeFileSync(join(base, 'victim'), 'safe');
      await run([{ path: 'f', type: '2', linkname: join(base, 'victim') }, { path: 'f', data: 'overwritten?' }]);
      assert.equal(fs.readFileSync(join(base, 'victim'), 'utf8'), 'safe');
      assert.equal(fs.readFileSync(join(root, 'f'), 'utf8'), 'overwritten?');
      assert.equal(fs.lstatSync(join(root, 'f')).isSymbolicLink(), false);
    });

    it('rejects hard links that escape or go through symlinks', async () => {
      fs.writeFileSync(join(base, 'victim'), 'safe');
      await assert.rejects(run([{ path: 'h', type: '1', linkname: '../victim' }]), /"\.\." component/);
      await assert.rejects(run([{ path: 's', type: '2', linkname: base }, { path: 'h', type: '1', linkname: 's/victim' }]), /not a directory/);
      await assert.rejects(run([{ path: 'h', type: '1', linkname: 'missing' }]), /missing/);
      // an absolute link name is resolved inside the layer, never on the host
      await assert.rejects(run([{ path: 'h', type: '1', linkname: join(base, 'victim') }]), /missing/);
      assert.equal(fs.statSync(join(base, 'victim')).nlink, 1);
    });

    it('rejects a whiteout through a symlinked parent', async () => {
      fs.mkdirSync(join(base, 'victimdir'));
      fs.writeFileSync(join(base, 'victimdir', 'f'), 'safe');
      await assert.rejects(run([{ path: 's', type: '2', linkname: join(base, 'victimdir') }, { path: 's/.wh.f' }]), /not a directory/);
      assert.equal(fs.readFileSync(join(base, 'victimdir', 'f'), 'utf8'), 'safe');
    });

    it('rejects a truncated archive', async () => {
      const tar = buildTar([{ path: 'f', data: 'x'.repeat(2000) }]).subarray(0, 1000);
      await assert.rejects(extractLayer(readTar(Readable.from([tar])), root, getSys()), /truncated/);
    });

    it('rejects a header with a bad checksum', async () => {
      const tar = buildTar([{ path: 'f', data: 'x' }]);
      tar[0] = 'g'.charCodeAt(0);
      await assert.rejects(extractLayer(readTar(Readable.from([tar])), root, getSys()), /checksum/);
    });
  });
});
