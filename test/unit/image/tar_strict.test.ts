// Layer tars crafted byte by byte, each read as Go's archive/tar reads it. The expectations are
// written from Go's source (src/archive/tar/reader.go, strconv.go, format.go), not from nori's:
//   - Next returns io.EOF (a clean end) at 0 bytes, after one zero block and EOF, after two zero
//     blocks, and when the stream ends in an entry's padding (tryReadFull); ErrHeader for a zero
//     block followed by a non-zero one; ErrUnexpectedEOF inside a header or a body.
//   - getFormat: the checksum field parses as octal and equals the unsigned or the signed sum.
//   - parseNumeric: base-256 when the first bit is set (two's complement, int64 overflow is an
//     error), else octal after trimming spaces and NULs at both ends (strconv.ParseUint base 8).
//   - mergePAX: empty values keep the header's; uid, gid, size are strconv.ParseInt(v, 10, 64)
//     (a sign allowed, nothing else); atime, mtime, ctime parsePAXTime; any error → ErrHeader.
//   - handleRegularFile: a negative size is ErrHeader, except for the header-only types
//     (link, symlink, char, block, dir, fifo), which have no body whatever their size says.
//   - parsePAXRecord: "%d %s=%s\n" with length ≥ 5 and ≤ what is left, a newline at its end, a
//     non-empty key, no NUL in the key, none in path/linkpath/uname/gname values.
//   - readSpecialFile: pax headers and GNU long names over 1 MiB are refused.
//   - a GNU long name wins over a pax path; typeflag NUL with a trailing slash is a directory.
// For each case: the entries Go's Next returns before it fails (or all of them), and whether it fails.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extractLayer } from '../../../src/image/extract';
import { readTar } from '../../../src/image/tar_reader';
import { getSys } from '../../../src/sys';

interface H {
  name: string;
  flag?: string;
  size?: number;
  /** raw bytes for a numeric field, written as they are */
  raw?: Partial<Record<'mode' | 'uid' | 'gid' | 'size' | 'mtime' | 'chksum', Buffer | string>>;
  linkname?: string;
  magic?: 'ustar' | 'gnu' | 'v7';
  checksum?: 'unsigned' | 'signed';
}

const FIELDS = { mode: [100, 8], uid: [108, 8], gid: [116, 8], size: [124, 12], mtime: [136, 12], chksum: [148, 8] } as const;

const oct = (n: number, len: number) => `${n.toString(8).padStart(len - 1, '0')}\0`;

function header(o: H): Buffer {
  const h = Buffer.alloc(512);
  Buffer.from(o.name).copy(h, 0, 0, 100);
  h.write(oct(0o644, 8), 100, 'latin1');
  h.write(oct(1000, 8), 108, 'latin1');
  h.write(oct(1000, 8), 116, 'latin1');
  h.write(oct(o.size ?? 0, 12), 124, 'latin1');
  h.write(oct(1_600_000_000, 12), 136, 'latin1');
  h.write(o.flag ?? '0', 156, 'latin1');
  if (o.linkname) h.write(o.linkname, 157, 'latin1');
  if ((o.magic ?? 'ustar') === 'ustar') h.write('ustar\x0000', 257, 'latin1');
  else if (o.magic === 'gnu') h.write('ustar  \0', 257, 'latin1');
  for (const [k, v] of Object.entries(o.raw ?? {})) {
    const [off, len] = FIELDS[k as keyof typeof FIELDS];
    h.fill(0, off, off + len);
    (typeof v === 'string' ? Buffer.from(v, 'latin1') : v).copy(h, off);
  }
  if (o.raw?.chksum === undefined) {
    let sum = 0;
    for (let i = 0; i < 512; i++) {
      const c = i >= 148 && i < 156 ? 0x20 : h[i]!;
      sum += o.checksum === 'signed' && c > 127 ? c - 256 : c;
    }
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  }
  return h;
}

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
const file = (name: string, data = `${name}\n`, o: Partial<H> = {}) => Buffer.concat([header({ name, size: Buffer.byteLength(data), ...o }), pad(Buffer.from(data))]);
const END = Buffer.alloc(1024);

function rec(k: string, v: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from('\n')]);
  let n = body.length + 1;
  while (String(n).length + body.length !== n) n = String(n).length + body.length;
  return Buffer.concat([Buffer.from(String(n)), body]);
}
const paxHeader = (records: Buffer, flag = 'x') => Buffer.concat([header({ name: 'PaxHeaders/x', flag, size: records.length }), pad(records)]);
const pax = (r: Record<string, string>) => paxHeader(Buffer.concat(Object.entries(r).map(([k, v]) => rec(k, v))));

interface Seen {
  path: string;
  type: string;
  size: number;
  uid: number;
  gid: number;
  mtime: number;
  mode: number;
  data: string;
  linkname: string;
}

async function read(...parts: Buffer[]): Promise<{ entries: Seen[]; error?: string }> {
  const entries: Seen[] = [];
  try {
    // in 100-byte pieces: block boundaries never line up with the chunks
    const all = Buffer.concat(parts);
    const chunks: Buffer[] = [];
    for (let i = 0; i < all.length; i += 100) chunks.push(all.subarray(i, i + 100));
    for await (const e of readTar(Readable.from(chunks))) {
      const body: Buffer[] = [];
      for await (const c of e.body()) body.push(c);
      entries.push({ path: e.path, type: e.type, size: e.size, uid: e.uid, gid: e.gid, mtime: e.mtime, mode: e.mode, data: Buffer.concat(body).toString(), linkname: e.linkname });
    }
    return { entries };
  } catch (e) {
    return { entries, error: (e as Error).message };
  }
}

const names = (r: { entries: Seen[] }) => r.entries.map((e) => e.path);

/** Go reads `before`, fails at the next header, and never reaches `after`. */
async function refusedAfterBefore(...middle: Buffer[]): Promise<string> {
  const r = await read(file('before'), ...middle, file('after'), END);
  assert.deepEqual(names(r), ['before'], `entries before the error: ${JSON.stringify(r)}`);
  assert.ok(r.error, 'refused');
  assert.match(r.error!, /^layer tar: /);
  return r.error!;
}

describe('layer tar reading matches Go archive/tar', () => {
  describe('pax numbers (mergePAX: strconv.ParseInt(v, 10, 64), parsePAXTime)', () => {
    for (const [key, value] of [
      ['size', 'NaN'], ['size', '-1'], ['size', '0x10'], ['size', '1e3'], ['size', ' 5'], ['size', '5 '], ['size', '9223372036854775808'],
      ['uid', 'NaN'], ['uid', '9223372036854775808'], ['uid', '-9223372036854775809'], ['uid', '1.5'], ['gid', 'abc'], ['gid', '+-1'],
      ['mtime', 'NaN'], ['mtime', '1e9'], ['mtime', '.5'], ['mtime', '1.5x'], ['mtime', '1.-5'], ['mtime', '99999999999999999999'],
      ['atime', 'yesterday'], ['ctime', '-'],
    ] as const) {
      it(`refuses ${key}="${value}"`, async () => {
        const err = await refusedAfterBefore(pax({ [key]: value }), file('bad'));
        if (key !== 'size' || value !== '-1') assert.match(err, new RegExp(`pax record ${key}=`));
      });
    }

    it('reads the values Go accepts: a sign, an empty value (the header wins), int64 extremes, fractional and negative times', async () => {
      const r = await read(
        pax({ size: '+5', uid: '+7', gid: '-0' }), file('plus', 'hello', { size: 99 }),
        pax({ size: '', uid: '' }), file('empty', 'abc'),
        pax({ uid: '-1', gid: '4294967296' }), file('ids'),
        pax({ uid: '9223372036854775807' }), file('max'),
        pax({ mtime: '1.5' }), file('frac'),
        pax({ mtime: '-1.5' }), file('neg'),
        pax({ mtime: '12.' }), file('dot'),
        pax({ mtime: '3.1234567891' }), file('nanos'),
        END,
      );
      assert.equal(r.error, undefined);
      const by = new Map(r.entries.map((e) => [e.path, e]));
      assert.equal(by.get('plus')!.size, 5);
      assert.equal(by.get('plus')!.data, 'hello');
      assert.equal(by.get('plus')!.uid, 7);
      assert.equal(by.get('plus')!.gid, 0);
      assert.equal(by.get('empty')!.size, 3);
      assert.equal(by.get('empty')!.uid, 1000);
      assert.equal(by.get('ids')!.uid, -1);
      assert.equal(by.get('ids')!.gid, 4294967296);
      assert.equal(by.get('max')!.uid, 9223372036854775807);
      assert.equal(by.get('frac')!.mtime, 1.5);
      assert.equal(by.get('neg')!.mtime, -1.5);
      assert.equal(by.get('dot')!.mtime, 12);
      assert.ok(Math.abs(by.get('nanos')!.mtime - 3.123456789) < 1e-9, 'nanoseconds truncated to 9 digits');
    });

    it('a negative pax size on a header-only type (symlink) is no error: Go gives it no body', async () => {
      const r = await read(pax({ size: '-1' }), header({ name: 'sym', flag: '2', linkname: 'target' }), file('after'), END);
      assert.equal(r.error, undefined);
      assert.deepEqual(names(r), ['sym', 'after']);
    });
  });

  describe('pax records (parsePAXRecord, validPAXRecord, readSpecialFile)', () => {
    const bad: Array<[string, Buffer]> = [
      ['no newline at the end', Buffer.from('11 path=abc')],
      ['a length past the data', Buffer.from('99 path=abc\n')],
      ['a length under 5', Buffer.from('3 a\n')],
      ['a hex length', Buffer.from('0xb path=a\n')],
      ['no equals sign', Buffer.from('9 pathab\n')],
      ['an empty key', Buffer.from('7 =abc\n')],
      ['a NUL in a path value', rec('path', 'a\0c')],
      ['a NUL in a key', rec('us\0er', 'a')],
      ['a length that is only its own digits', Buffer.from('2 \n')],
      ['sparse numbytes before offset', Buffer.concat([rec('GNU.sparse.numbytes', '1'), rec('GNU.sparse.offset', '0')])],
    ];
    for (const [what, data] of bad) {
      it(`refuses ${what}`, async () => {
        assert.match(await refusedAfterBefore(paxHeader(data), file('bad')), /malformed pax record/);
      });
    }

    it('accepts a NUL in the value of a key other than path/linkpath/uname/gname', async () => {
      const r = await read(paxHeader(rec('comment', 'a\0b')), file('ok'), END);
      assert.equal(r.error, undefined);
      assert.deepEqual(names(r), ['ok']);
    });

    it('refuses a pax header and a GNU long name over 1 MiB', async () => {
      const big = Buffer.alloc((1 << 20) + 1, 0x61);
      await refusedAfterBefore(Buffer.concat([header({ name: 'p', flag: 'x', size: big.length }), pad(big)]), file('bad'));
      await refusedAfterBefore(Buffer.concat([header({ name: '././@LongLink', flag: 'L', size: big.length }), pad(big)]), file('bad'));
    });

    it('a global pax header is read, checked and applies to no entry', async () => {
      const r = await read(pax({ path: 'not-this' }), paxHeader(rec('path', 'global'), 'g'), file('real'), END);
      assert.equal(r.error, undefined);
      assert.deepEqual(names(r), ['real']);
      // Go merges a global header ignoring mergePAX's error: a bad value there is no error…
      const g = await read(file('before'), paxHeader(rec('mtime', 'x'), 'g'), file('ok'), END);
      assert.equal(g.error, undefined);
      assert.deepEqual(names(g), ['before', 'ok']);
      // …but a malformed record is ErrHeader from parsePAX
      await refusedAfterBefore(paxHeader(Buffer.from('9 pathab\n'), 'g'), file('bad'));
    });

    it('a GNU long name wins over a pax path', async () => {
      const long = 'l'.repeat(150);
      const r = await read(
        pax({ path: 'from-pax' }),
        Buffer.concat([header({ name: '././@LongLink', flag: 'L', size: long.length + 1 }), pad(Buffer.from(`${long}\0`))]),
        file('short'),
        END,
      );
      assert.equal(r.error, undefined);
      assert.deepEqual(names(r), [long]);
    });
  });

  describe('the end of the archive (readHeader, tryReadFull)', () => {
    it('one zero block followed by a header is refused', async () => {
      const r = await read(file('a'), Buffer.alloc(512), file('b'), END);
      assert.deepEqual(names(r), ['a']);
      assert.match(r.error!, /zero block followed by a header/);
    });

    it('two zero blocks end it: what follows is never read as entries', async () => {
      const r = await read(file('a'), END, file('b'), END);
      assert.equal(r.error, undefined);
      assert.deepEqual(names(r), ['a']);
    });

    it('one zero block and then the end of the stream is a clean end', async () => {
      const r = await read(file('a'), Buffer.alloc(512));
      assert.equal(r.error, undefined);
      assert.deepEqual(names(r), ['a']);
    });

    it('no end blocks at all is a clean end', async () => {
      const r = await read(file('a'), file('b'));
      assert.equal(r.error, undefined);
      assert.deepEqual(names(r), ['a', 'b']);
    });

    it('a stream that ends inside the padding after a body is a clean end', async () => {
      const r = await read(file('a'), file('b', 'xyz').subarray(0, 512 + 10));
      assert.equal(r.error, undefined);
      assert.deepEqual(r.entries.map((e) => [e.path, e.data]), [['a', 'a\n'], ['b', 'xyz']]);
    });

    it('a stream that ends inside a body, a header, or the second zero block is refused', async () => {
      let r = await read(file('a'), file('b', 'x'.repeat(600)).subarray(0, 512 + 100));
      assert.deepEqual(names(r), ['a']);
      assert.ok(r.error);
      r = await read(file('a'), header({ name: 'b' }).subarray(0, 300));
      assert.deepEqual(names(r), ['a']);
      assert.ok(r.error);
      r = await read(file('a'), Buffer.alloc(512 + 200));
      assert.deepEqual(names(r), ['a']);
      assert.ok(r.error);
    });
  });

  describe('header fields (getFormat, parseNumeric, handleRegularFile)', () => {
    it('refuses a wrong checksum and one that is not octal', async () => {
      const h = header({ name: 'bad' });
      h[0] ^= 1;
      await refusedAfterBefore(h);
      await refusedAfterBefore(header({ name: 'bad', raw: { chksum: '0000009\0' } }));
    });

    it('accepts a checksum written as the signed sum (bytes over 0x7f counted negative)', async () => {
      const r = await read(file('caf\u00e9', 'x', { checksum: 'signed' }), END);
      assert.equal(r.error, undefined);
      assert.deepEqual(names(r), ['caf\u00e9']);
    });

    for (const [field, raw] of [
      ['mode', '0000648\0'], ['uid', '00001x0\0'], ['gid', '12 34\0\0\0'], ['mtime', '+1234567890\0'], ['size', '0000000000-\0'],
    ] as const) {
      it(`refuses a ${field} field "${raw.replace(/\0/g, '\\0')}" that octal parsing refuses`, async () => {
        await refusedAfterBefore(header({ name: 'bad', raw: { [field]: raw } }));
      });
    }

    it('trims spaces and NULs at both ends of octal fields (a leading NUL included)', async () => {
      const r = await read(header({ name: 'a', raw: { mode: ' \x000755 \0', uid: '\0\0\x0012\0\0', gid: '   7    ' } }), END);
      assert.equal(r.error, undefined);
      assert.equal(r.entries[0]!.mode, 0o755);
      assert.equal(r.entries[0]!.uid, 0o12);
      assert.equal(r.entries[0]!.gid, 7);
    });

    it('reads base-256 numbers, negative ones included, and refuses int64 overflow', async () => {
      const size = Buffer.alloc(12);
      size[0] = 0x80;
      size[11] = 3;
      let r = await read(header({ name: 'big', size: 3, raw: { size } }), pad(Buffer.from('abc')), END);
      assert.equal(r.error, undefined);
      assert.equal(r.entries[0]!.data, 'abc');
      // -1 as a uid (two's complement, 0xff…): Go reads -1
      r = await read(header({ name: 'neg', raw: { uid: Buffer.alloc(8, 0xff) } }), END);
      assert.equal(r.error, undefined);
      assert.equal(r.entries[0]!.uid, -1);
      // a negative size on a regular file: ErrHeader
      await refusedAfterBefore(header({ name: 'negsize', raw: { size: Buffer.alloc(12, 0xff) } }));
      // 0x80 then 11 bytes: 88 bits, more than int64
      await refusedAfterBefore(header({ name: 'overflow', raw: { size: Buffer.from([0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) } }));
      // exactly 2^63: overflow too
      await refusedAfterBefore(header({ name: 'overflow', raw: { size: Buffer.from([0x80, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]) } }));
    });

    it('a symlink, dir or device takes no body even when its size field says otherwise', async () => {
      const r = await read(header({ name: 'sym', flag: '2', linkname: 't', size: 1024 }), header({ name: 'd/', flag: '5', size: 512 }), file('f'), END);
      assert.equal(r.error, undefined);
      assert.deepEqual(r.entries.map((e) => [e.path, e.type]), [['sym', 'symlink'], ['d/', 'dir'], ['f', 'file']]);
    });

    it('typeflag NUL is a directory when the name ends in a slash, else a file', async () => {
      const r = await read(header({ name: 'old/', flag: '\0' }), file('plain', 'p', { flag: '\0' }), END);
      assert.equal(r.error, undefined);
      assert.deepEqual(r.entries.map((e) => [e.path, e.type]), [['old/', 'dir'], ['plain', 'file']]);
    });

    it('a V7 header (no magic) ignores the ustar fields; a GNU one has no prefix', async () => {
      const v7 = header({ name: 'v7', magic: 'v7' });
      const r = await read(v7, header({ name: 'gnu', magic: 'gnu' }), END);
      assert.equal(r.error, undefined);
      assert.deepEqual(names(r), ['v7', 'gnu']);
    });
  });

  describe('what nori refuses on top of Go (documented in docs/images.md)', () => {
    it('GNU sparse files (Go would expand them; nori does not read them another way)', async () => {
      await refusedAfterBefore(header({ name: 'sparse', flag: 'S', magic: 'gnu' }));
      await refusedAfterBefore(pax({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0' }), file('sparse'));
    });
  });
});

describe('layer extraction of what Go reads but no file can have', () => {
  let base: string;
  beforeEach(() => (base = fs.mkdtempSync(join(tmpdir(), 'nori-tar-'))));
  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  const extract = (...parts: Buffer[]) => extractLayer(readTar(Readable.from([Buffer.concat(parts)])), base, getSys());

  for (const [key, value] of [['uid', '-1'], ['gid', '4294967295'], ['uid', '4294967296']] as const) {
    it(`refuses pax ${key}=${value} (chown would read -1 as "unchanged", or cut the value)`, async () => {
      await assert.rejects(extract(pax({ [key]: value }), file('f'), END), new RegExp(`"f" has ${key} ${value}, which no file can have`));
    });
  }

  it('applies user.* and security.capability xattrs, never trusted.* or user.overlay.*', async () => {
    await extract(
      pax({
        'SCHILY.xattr.user.kept': 'yes',
        'SCHILY.xattr.trusted.overlay.opaque': 'y',
        'SCHILY.xattr.trusted.overlay.redirect': '/etc',
        'SCHILY.xattr.trusted.other': 'x',
        'SCHILY.xattr.user.overlay.opaque': 'y',
        'SCHILY.xattr.security.selinux': 'system_u:object_r:etc_t:s0',
      }),
      header({ name: 'd/', flag: '5', raw: { mode: '0000755\0' } }),
      END,
    );
    const sys = getSys();
    const d = join(base, 'd');
    assert.deepEqual(sys.lgetxattr(d, 'user.kept')?.toString(), 'yes');
    for (const k of ['trusted.overlay.opaque', 'trusted.overlay.redirect', 'trusted.other', 'user.overlay.opaque']) assert.equal(sys.lgetxattr(d, k), null, k);
    assert.ok(!sys.llistxattr(d).includes('trusted.overlay.opaque'));
  });
});
