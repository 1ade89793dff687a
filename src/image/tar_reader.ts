// A streaming tar reader: ustar, GNU long names/links ('L'/'K'), pax extended headers ('x', with
// path, linkpath, size, uid, gid, mtime and SCHILY.xattr.*); global pax headers are skipped.
// Each entry's body must be consumed (or is skipped) before the next entry is read.

import { InvalidArgumentError } from '../errors';

export type TarType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  path: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** seconds, possibly fractional (pax) */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
  /** the body, in chunks; only files have one */
  body(): AsyncGenerator<Buffer>;
}

class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<void> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    }
  }

  /** Exactly n bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    await this.fill(n);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** n bytes as chunks, without buffering them all. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!this.buf.length) {
        if (this.done) throw new InvalidArgumentError('tar archive truncated');
        const r = await this.it.next();
        if (r.done) {
          this.done = true;
          continue;
        }
        this.buf = r.value;
      }
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield out;
    }
  }

  /** Reads the rest of the stream (trailing padding after the end blocks). */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (!this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
    }
  }
}

function cstr(b: Buffer): string {
  const z = b.indexOf(0);
  return (z === -1 ? b : b.subarray(0, z)).toString('utf8');
}

function num(b: Buffer): number {
  if (b[0]! & 0x80) {
    // base-256 (GNU) for values that do not fit in octal
    let v = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = cstr(b).trim();
  if (!s) return 0;
  if (!/^[0-7]+$/.test(s)) throw new InvalidArgumentError(`tar header: bad number "${s}"`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === num(h.subarray(148, 156));
}

/** pax records: "<len> <key>=<value>\n", values kept as bytes (xattrs are binary). */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp === -1) break;
    const len = parseInt(data.subarray(off, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0 || off + len > data.length) throw new InvalidArgumentError('tar: malformed pax record');
    const rec = data.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq !== -1) out.set(rec.subarray(0, eq).toString('utf8'), rec.subarray(eq + 1));
    off += len;
  }
  return out;
}

const TYPES: Record<string, TarType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};

const MAX_META = 1 << 20;

export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source[Symbol.asyncIterator]());
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Map<string, Buffer> | undefined;
  for (;;) {
    const h = await r.read(512);
    if (h.length === 0) return; // no end blocks: accept, as GNU tar does
    if (h.length < 512) throw new InvalidArgumentError('tar archive truncated in a header');
    if (h.every((b) => b === 0)) {
      await r.drain();
      return;
    }
    if (!checksumOk(h)) throw new InvalidArgumentError('tar header checksum mismatch');
    const flag = String.fromCharCode(h[156]!);
    let size = num(h.subarray(124, 136));
    if (pax?.has('size')) size = Number(pax.get('size')!.toString());
    const padded = Math.ceil(size / 512) * 512;
    if (flag === 'L' || flag === 'K' || flag === 'x' || flag === 'g') {
      if (size > MAX_META) throw new InvalidArgumentError('tar: metadata entry too large');
      const data = (await r.read(padded)).subarray(0, size);
      if (data.length < size) throw new InvalidArgumentError('tar archive truncated');
      if (flag === 'L') longName = cstr(data);
      else if (flag === 'K') longLink = cstr(data);
      else if (flag === 'x') pax = parsePax(data);
      continue;
    }
    const type = TYPES[flag];
    const magic = h.subarray(257, 263).toString('latin1');
    let path = cstr(h.subarray(0, 100));
    if (magic.startsWith('ustar')) {
      const prefix = cstr(h.subarray(345, 500));
      if (prefix && magic === 'ustar\x00') path = `${prefix}/${path}`;
    }
    if (longName !== undefined) path = longName;
    let linkname = longLink ?? cstr(h.subarray(157, 257));
    const xattrs = new Map<string, Buffer>();
    let uid = num(h.subarray(108, 116));
    let gid = num(h.subarray(116, 124));
    let mtime = num(h.subarray(136, 148));
    if (pax) {
      if (pax.has('path')) path = pax.get('path')!.toString('utf8');
      if (pax.has('linkpath')) linkname = pax.get('linkpath')!.toString('utf8');
      if (pax.has('uid')) uid = Number(pax.get('uid')!.toString());
      if (pax.has('gid')) gid = Number(pax.get('gid')!.toString());
      if (pax.has('mtime')) mtime = Number(pax.get('mtime')!.toString());
      for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice(13), v);
    }
    longName = longLink = pax = undefined;
    if (!type) {
      // unknown entry types (sparse, volume labels) are skipped, body and all
      for await (const _ of r.chunks(padded)) void _;
      continue;
    }
    let consumed = false;
    const bodySize = type === 'file' ? size : 0;
    const entry: TarEntry = {
      path, type, linkname, uid, gid, mtime, xattrs,
      mode: num(h.subarray(100, 108)) & 0o7777,
      size: bodySize,
      devmajor: num(h.subarray(329, 337)),
      devminor: num(h.subarray(337, 345)),
      body: async function* () {
        if (consumed) throw new Error('tar entry body read twice');
        consumed = true;
        yield* r.chunks(bodySize);
      },
    };
    yield entry;
    if (!consumed) {
      consumed = true;
      for await (const _ of r.chunks(bodySize)) void _;
    }
    // non-file entries may still carry a size (hard links in some writers): skip those bytes
    const extra = type === 'file' ? padded - size : padded;
    if (extra) for await (const _ of r.chunks(extra)) void _;
  }
}
