// A streaming tar reader that reads what Go's archive/tar reads and refuses what it refuses
// (reader.go Next/readHeader/handleRegularFile/mergePAX; the number rules are in tar_numbers.ts):
// V7, ustar, pax, GNU and star headers; GNU long names/links ('L'/'K'); pax extended headers
// ('x': path, linkpath, size, uid, gid, atime/mtime/ctime, SCHILY.xattr.*); global pax headers
// ('g') are validated and skipped. The archive ends at two zero blocks, or at the end of the
// stream on a block boundary (Go accepts both); one zero block followed by a header is refused.
// GNU sparse files, which Go would expand, are refused rather than read another way.
// Each entry's body must be consumed (or is skipped) before the next entry is read.

import { InvalidArgumentError } from '../errors';
import { cString, isPaxSparse, parseInt64, parseNumeric, parseOctal, parsePax, parsePaxTime } from './tar_numbers';

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
    if (this.buf.length >= n || this.done) return;
    // collected and joined once: no repeated concatenation for small chunks
    const parts: Buffer[] = this.buf.length ? [this.buf] : [];
    let have = this.buf.length;
    while (have < n) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      parts.push(r.value);
      have += r.value.length;
    }
    this.buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
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

  /** Exactly n bytes, or undefined when the stream ends first (Go's tryReadFull/io.EOF). */
  async readFull(n: number): Promise<Buffer | undefined> {
    const b = await this.read(n);
    return b.length === n ? b : undefined;
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


const BLOCK = 512;
/** Go's maxSpecialFileSize: the largest pax header or GNU long name/link */
const MAX_SPECIAL = 1 << 20;

/** Typeflags Go reads no body for, whatever their size field says (isHeaderOnlyType). */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

const TYPES: Record<string, TarType> = {
  '0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
};

type Format = 'v7' | 'ustar' | 'gnu' | 'star';

function bad(what: string, at: number): InvalidArgumentError {
  return new InvalidArgumentError(`layer tar: ${what} (header at byte ${at})`);
}

/** format.go getFormat: the checksum (unsigned or signed sum) and the magic. */
function formatOf(h: Buffer): Format | undefined {
  const sum = parseOctal(h.subarray(148, 156));
  if (sum === undefined) return undefined;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (sum !== BigInt(unsigned) && sum !== BigInt(signed)) return undefined;
  const magic = h.toString('latin1', 257, 263);
  if (magic === 'ustar\0' && h.toString('latin1', 508, 512) === 'tar\0') return 'star';
  if (magic === 'ustar\0') return 'ustar';
  if (magic === 'ustar ' && h.toString('latin1', 263, 265) === ' \0') return 'gnu';
  return 'v7';
}

interface Header {
  flag: string;
  name: Buffer;
  linkname: Buffer;
  size: bigint;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  mtime: number;
  devmajor: bigint;
  devminor: bigint;
}

/** reader.go readHeader after the zero-block check: every numeric field must parse. */
function parseHeader(h: Buffer, at: number): Header {
  const format = formatOf(h);
  if (!format) throw bad('checksum mismatch or unreadable checksum', at);
  let failed: string | undefined;
  const num = (field: string, a: number, b: number): bigint => {
    const v = parseNumeric(h.subarray(a, b));
    if (v === undefined) {
      failed ??= field;
      return 0n;
    }
    return v;
  };
  const hdr: Header = {
    flag: String.fromCharCode(h[156]!),
    name: cString(h.subarray(0, 100)),
    linkname: cString(h.subarray(157, 257)),
    size: num('size', 124, 136),
    mode: num('mode', 100, 108),
    uid: num('uid', 108, 116),
    gid: num('gid', 116, 124),
    mtime: Number(num('mtime', 136, 148)),
    devmajor: 0n,
    devminor: 0n,
  };
  if (format !== 'v7') {
    hdr.devmajor = num('devmajor', 329, 337);
    hdr.devminor = num('devminor', 337, 345);
    let prefix: Buffer = Buffer.alloc(0);
    if (format === 'ustar') prefix = cString(h.subarray(345, 500));
    else if (format === 'star') {
      prefix = cString(h.subarray(345, 476));
      num('atime', 476, 488);
      num('ctime', 488, 500);
    } else {
      // GNU: atime/ctime that do not parse mean a pre-Go-1.8 writer put a prefix there
      const a = h[345] !== 0 ? parseNumeric(h.subarray(345, 357)) : 0n;
      const c = h[357] !== 0 ? parseNumeric(h.subarray(357, 369)) : 0n;
      if (a === undefined || c === undefined) {
        const p = cString(h.subarray(345, 500));
        if (p.every((x) => x < 0x80)) prefix = p;
      }
    }
    if (prefix.length) hdr.name = Buffer.concat([prefix, Buffer.from('/'), hdr.name]);
  }
  if (failed) throw bad(`the ${failed} field is not a number`, at);
  return hdr;
}

/** reader.go mergePAX: empty values keep the header's; numbers must parse as Go parses them. */
function mergePax(hdr: Header, pax: Map<string, Buffer>, xattrs: Map<string, Buffer>, at: number): void {
  for (const [k, v] of pax) {
    if (v.length === 0) continue;
    const text = () => v.toString('latin1');
    const int = (): bigint => {
      const n = parseInt64(text());
      if (n === undefined) throw bad(`pax record ${k}="${text().slice(0, 40)}" is not a 64-bit integer`, at);
      return n;
    };
    const time = (): number => {
      const t = parsePaxTime(text());
      if (t === undefined) throw bad(`pax record ${k}="${text().slice(0, 40)}" is not a time`, at);
      return t;
    };
    switch (k) {
      case 'path':
        hdr.name = v;
        break;
      case 'linkpath':
        hdr.linkname = v;
        break;
      case 'uid':
        hdr.uid = int();
        break;
      case 'gid':
        hdr.gid = int();
        break;
      case 'size':
        hdr.size = int();
        break;
      case 'mtime':
        hdr.mtime = time();
        break;
      case 'atime':
      case 'ctime':
        time();
        break;
      default:
        if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice(13), v);
    }
  }
}

/** reader.go handleRegularFile: the bytes of body that follow the header. */
function bodySize(flag: string, size: bigint, at: number): number {
  if (HEADER_ONLY.has(flag)) return 0;
  if (size < 0n) throw bad(`negative size ${size}`, at);
  // Go would go on reading and fail at the end of the stream; no layer holds 2^53 bytes
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`size ${size} is larger than any layer`, at);
  return Number(size);
}

const padOf = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK;

export async function* readTar(source: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source[Symbol.asyncIterator]());
  let offset = 0;
  /** padding still to skip after the last entry's body */
  let pad = 0;
  for (;;) {
    let pax: Map<string, Buffer> | undefined;
    let gnuLongName: Buffer | undefined;
    let gnuLongLink: Buffer | undefined;
    let hdr: Header;
    let at: number;
    let size: number;
    for (;;) {
      // padding that ends the stream ends the archive (Go's tryReadFull → io.EOF)
      if (pad) {
        if (!(await r.readFull(pad))) return;
        offset += pad;
        pad = 0;
      }
      at = offset;
      const h = await r.read(BLOCK);
      if (h.length === 0) return; // no end blocks: Go ends here too
      if (h.length < BLOCK) throw bad('the archive ends inside a header', at);
      offset += BLOCK;
      if (h.every((b) => b === 0)) {
        const h2 = await r.read(BLOCK);
        if (h2.length === 0) return; // one zero block, then the end: accepted by Go
        if (h2.length < BLOCK) throw bad('the archive ends inside a header', offset);
        if (h2.every((b) => b === 0)) {
          await r.drain();
          return;
        }
        throw bad('a zero block followed by a header (the end of an archive needs two)', at);
      }
      hdr = parseHeader(h, at);
      size = bodySize(hdr.flag, hdr.size, at);
      if (hdr.flag === 'x' || hdr.flag === 'g' || hdr.flag === 'L' || hdr.flag === 'K') {
        if (size > MAX_SPECIAL) throw bad(`a ${hdr.flag} header of ${size} bytes (the limit is ${MAX_SPECIAL})`, at);
        const data = await r.read(size);
        if (data.length < size) throw bad('the archive ends inside an extended header', at);
        offset += size;
        pad = padOf(size);
        if (hdr.flag === 'L') gnuLongName = cString(data);
        else if (hdr.flag === 'K') gnuLongLink = cString(data);
        else {
          const parsed = parsePax(data);
          if (!parsed) throw bad('a malformed pax record', at);
          if (hdr.flag === 'g') {
            // Go returns a global header as an entry of its own; it applies to nothing after it
            pax = gnuLongName = gnuLongLink = undefined;
            continue;
          }
          pax = parsed;
        }
        continue;
      }
      break;
    }
    const xattrs = new Map<string, Buffer>();
    if (pax) {
      mergePax(hdr, pax, xattrs, at);
      if (isPaxSparse(pax)) throw bad('a GNU sparse file (not supported)', at);
    }
    if (gnuLongName?.length) hdr.name = gnuLongName;
    if (gnuLongLink?.length) hdr.linkname = gnuLongLink;
    const path = hdr.name.toString('utf8');
    let flag = hdr.flag;
    if (flag === '\0') flag = path.endsWith('/') ? '5' : '0';
    if (flag === 'S') throw bad('a GNU sparse file (not supported)', at);
    size = bodySize(flag, hdr.size, at);
    pad = padOf(size);
    const type = TYPES[flag];
    if (!type) {
      // entry types no layer needs (volume labels, multi-volume parts): their bytes are skipped
      for await (const _ of r.chunks(size)) offset += _.length;
      continue;
    }
    let consumed = false;
    let left = size;
    const entry: TarEntry = {
      path, type, xattrs,
      linkname: hdr.linkname.toString('utf8'),
      // as Go reads them (int64); which of them a file can have is the extractor's check
      uid: Number(hdr.uid),
      gid: Number(hdr.gid),
      mtime: hdr.mtime,
      mode: Number(hdr.mode & 0o7777n),
      size,
      devmajor: Number(hdr.devmajor),
      devminor: Number(hdr.devminor),
      body: async function* () {
        if (consumed) throw new Error('tar entry body read twice');
        consumed = true;
        for await (const c of r.chunks(left)) {
          offset += c.length;
          left -= c.length;
          yield c;
        }
      },
    };
    yield entry;
    // whatever of the body the consumer left unread
    consumed = true;
    for await (const c of r.chunks(left)) offset += c.length;
    left = 0;
  }
}
