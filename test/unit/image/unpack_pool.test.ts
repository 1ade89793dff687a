import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InlineUnpacker } from '../../../src/image/inline_unpack';
import type { LayerUnpacker } from '../../../src/image/layer_unpack';
import { UnpackPool } from '../../../src/image/unpack_pool';
import { silentLogger } from '../../../src/log';
import { getSys } from '../../../src/sys';
import { buildTar, type TEntry } from './tar_builder';

const gzip = (b: Buffer): Buffer => gzipSync(b, { level: 1 });
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Feeds `blob` in `chunk`-byte pieces, honouring the sink's back-pressure. */
async function feed(u: LayerUnpacker, dir: string, blob: Buffer, chunk = 7000, signal = new AbortController().signal) {
  let progress = 0;
  const sink = u.start(dir, 'gzip', signal, () => progress++);
  for (let off = 0; off < blob.length; off += chunk) {
    const w = sink.write(blob.subarray(off, off + chunk));
    if (w) await w;
  }
  return { result: await sink.end(), progress };
}

for (const kind of ['worker pool', 'inline'] as const) {
  describe(`layer unpacking (${kind})`, function () {
    this.timeout(30_000);
    let base: string;
    let u: LayerUnpacker;
    before(() => {
      u = kind === 'inline' ? new InlineUnpacker(getSys()) : new UnpackPool(silentLogger(), 1);
    });
    beforeEach(() => {
      base = fs.mkdtempSync(join(tmpdir(), 'nori-up-'));
      fs.mkdirSync(join(base, 'diff'));
    });
    afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

    const big = Buffer.alloc(9 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    const entries: TEntry[] = [
      { path: 'etc/', type: '5', mode: 0o755 },
      { path: 'etc/hostname', data: 'nori\n', mode: 0o644, uid: 1002, gid: 1003 },
      { path: 'big.bin', data: big, mode: 0o600 },
      { path: 'bin/sh', data: 'x', mode: 0o4755 },
    ];

    let cached: { tar: Buffer; blob: Buffer } | undefined;
    const entriesTar = () => (cached ??= { tar: buildTar(entries), blob: gzip(buildTar(entries)) });
    const entriesBlob = () => Buffer.from(entriesTar().blob);

    it('unpacks a gzip layer and reports both digests and the size', async () => {
      const { tar, blob } = entriesTar();
      const { result } = await feed(u, join(base, 'diff'), blob);
      assert.equal(result.digest, sha(blob));
      assert.equal(result.size, blob.length);
      assert.equal(result.diffId, sha(tar));
      assert.equal(fs.readFileSync(join(base, 'diff/etc/hostname'), 'utf8'), 'nori\n');
      assert.ok(fs.readFileSync(join(base, 'diff/big.bin')).equals(big));
      const st = fs.statSync(join(base, 'diff/etc/hostname'));
      assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [1002, 1003, 0o644]);
      assert.equal(fs.statSync(join(base, 'diff/bin/sh')).mode & 0o7777, 0o4755);
    });

    it('makes overlay whiteouts, opaque dirs and xattrs (the native addon works here too)', async () => {
      const blob = gzip(
        buildTar([
          { path: 'gone/', type: '5' },
          { path: '.wh.old', data: '' },
          { path: 'opq/', type: '5' },
          { path: 'opq/.wh..wh..opq', data: '' },
          { path: 'cap', data: 'x', pax: { 'SCHILY.xattr.user.nori': 'yes' } },
        ]),
      );
      await feed(u, join(base, 'diff'), blob);
      const wh = fs.lstatSync(join(base, 'diff/old'));
      assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'whiteout is a 0/0 char device');
      assert.equal(getSys().lgetxattr(join(base, 'diff/opq'), 'trusted.overlay.opaque')?.toString(), 'y');
      assert.equal(getSys().lgetxattr(join(base, 'diff/cap'), 'user.nori')?.toString(), 'yes');
    });

    it('unpacks several layers at once', async () => {
      const blobs = [0, 1, 2].map((i) => gzip(buildTar([{ path: `l${i}/big`, data: big }, { path: `l${i}/f`, data: `layer ${i}` }])));
      for (const i of [0, 1, 2]) fs.mkdirSync(join(base, `d${i}`));
      const results = await Promise.all(blobs.map((b, i) => feed(u, join(base, `d${i}`), b, 65536)));
      results.forEach(({ result }, i) => assert.equal(result.digest, sha(blobs[i]!)));
      for (const i of [0, 1, 2]) assert.equal(fs.readFileSync(join(base, `d${i}/l${i}/f`), 'utf8'), `layer ${i}`);
    });

    it('refuses a corrupt gzip stream and stays usable', async () => {
      const blob = entriesBlob();
      blob[blob.length >> 1] ^= 0xff;
      await assert.rejects(feed(u, join(base, 'diff'), blob), /invalid|incorrect|check|mismatch|failed/i);
      const ok = gzip(buildTar([{ path: 'a', data: 'b' }]));
      fs.mkdirSync(join(base, 'again'));
      assert.equal((await feed(u, join(base, 'again'), ok)).result.digest, sha(ok));
    });

    it('refuses a hostile entry with InvalidArgumentError and writes nothing outside', async () => {
      const blob = gzip(buildTar([{ path: '../escape', data: 'x' }]));
      await assert.rejects(feed(u, join(base, 'diff'), blob), (e: Error) => e.name === 'InvalidArgumentError' && /\.\./.test(e.message));
      assert.deepEqual(fs.readdirSync(base), ['diff']);
    });

    it('stops on abort and resolves only when nothing writes any more', async () => {
      const blob = entriesBlob();
      const sink = u.start(join(base, 'diff'), 'gzip', new AbortController().signal, () => undefined);
      await sink.write(blob.subarray(0, blob.length >> 1));
      await sink.abort();
      const before = fs.readdirSync(join(base, 'diff'), { recursive: true }).length;
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(fs.readdirSync(join(base, 'diff'), { recursive: true }).length, before);
      await assert.rejects(sink.end());
    });

    it('rejects a writer waiting for room when the signal aborts', async () => {
      const ctl = new AbortController();
      const blob = entriesBlob();
      const sink = u.start(join(base, 'diff'), 'gzip', ctl.signal, () => undefined);
      // push everything without waiting, then abort: a wait (if any) must end with the reason
      let wait: Promise<void> | undefined;
      for (let off = 0; off < blob.length && !wait; off += 1 << 20) wait = sink.write(blob.subarray(off, off + (1 << 20)));
      ctl.abort(new Error('stalled'));
      if (wait) await assert.rejects(wait, /stalled/);
      await sink.abort();
    });
  });
}
