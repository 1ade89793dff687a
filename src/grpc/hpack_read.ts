// Reading HPACK (RFC 7541) header blocks, as much as nori needs: AuthorityFix finds and rewrites the
// :authority field in every block; the connection router decodes the names and values of a
// connection's first block, to learn whether Node's HTTP/2 would accept its authority.

import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './hpack_huffman';

/**
 * Characters nghttp2 accepts in an :authority (nghttp2_check_authority). A host header with others
 * is only ignored, not refused, so only :authority decides whether a stream is served.
 */
export const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;
export const INVALID_AUTHORITY_CHAR = /[^A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]/g;

/**
 * RFC 7541 Appendix A: the static table's names, index 1..61. Their values are never asked for:
 * the entry for :authority (1) has an empty one.
 */
const STATIC_NAMES = [
  ':authority', ':method', ':method', ':path', ':path', ':scheme', ':scheme', ':status', ':status', ':status',
  ':status', ':status', ':status', ':status', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'accept', 'access-control-allow-origin', 'age', 'allow', 'authorization', 'cache-control',
  'content-disposition', 'content-encoding', 'content-language', 'content-length', 'content-location',
  'content-range', 'content-type', 'cookie', 'date', 'etag', 'expect', 'expires', 'from', 'host', 'if-match',
  'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'last-modified', 'link', 'location',
  'max-forwards', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer', 'refresh', 'retry-after',
  'server', 'set-cookie', 'strict-transport-security', 'transfer-encoding', 'user-agent', 'vary', 'via',
  'www-authenticate',
];

/** The dynamic table size a peer may use before it has seen the other side's SETTINGS. */
const DEFAULT_TABLE_SIZE = 4096;

/**
 * The values of :authority in the first header block of a connection (the dynamic table starts
 * empty). Throws on a malformed block.
 */
export function firstBlockAuthorities(block: Buffer): string[] {
  const dynamic: { name: string; value: string }[] = []; // newest first
  let size = 0;
  let maxSize = DEFAULT_TABLE_SIZE;
  const evict = () => {
    while (size > maxSize) {
      const e = dynamic.pop()!;
      size -= e.name.length + e.value.length + 32;
    }
  };
  const entry = (index: number): { name: string; value: string } => {
    if (index >= 1 && index <= STATIC_NAMES.length) return { name: STATIC_NAMES[index - 1]!, value: '' };
    const e = dynamic[index - STATIC_NAMES.length - 1];
    if (!e) throw new Error(`hpack: no table entry ${index}`);
    return e;
  };
  const out: string[] = [];
  let i = 0;
  while (i < block.length) {
    const b = block[i]!;
    let field: { name: string; value: string };
    if (b & 0x80) {
      const index = readInt(block, i, 7);
      i = index.next;
      field = entry(index.value);
    } else if ((b & 0xe0) === 0x20) {
      const update = readInt(block, i, 5);
      i = update.next;
      if (update.value > DEFAULT_TABLE_SIZE) throw new Error('hpack: table size above the default');
      maxSize = update.value;
      evict();
      continue;
    } else {
      const indexing = (b & 0xc0) === 0x40;
      const nameIndex = readInt(block, i, indexing ? 6 : 4);
      i = nameIndex.next;
      let name: string;
      if (nameIndex.value === 0) {
        const n = readString(block, i);
        name = n.text;
        i = n.next;
      } else name = entry(nameIndex.value).name;
      const v = readString(block, i);
      i = v.next;
      field = { name, value: v.text };
      if (indexing) {
        dynamic.unshift(field);
        size += name.length + field.value.length + 32;
        evict();
      }
    }
    if (field.name === ':authority') out.push(field.value);
  }
  return out;
}

export function readInt(buf: Buffer, at: number, prefixBits: number): { value: number; next: number } {
  if (at >= buf.length) throw new Error('hpack: integer past the end');
  const max = (1 << prefixBits) - 1;
  let value = buf[at]! & max;
  let i = at + 1;
  if (value < max) return { value, next: i };
  let shift = 0;
  for (;;) {
    if (i >= buf.length || shift > 28) throw new Error('hpack: bad integer');
    const b = buf[i++]!;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80)) return { value, next: i };
  }
}

export function readString(buf: Buffer, at: number): { text: string; next: number } {
  if (at >= buf.length) throw new Error('hpack: string past the end');
  const huffman = (buf[at]! & 0x80) !== 0;
  const len = readInt(buf, at, 7);
  const start = len.next;
  const end = start + len.value;
  if (end > buf.length) throw new Error('hpack: string past the end');
  const raw = buf.subarray(start, end);
  return { text: huffman ? huffmanDecode(raw) : raw.toString('latin1'), next: end };
}

/** Where the string literal at `at` ends, without decoding it. */
export function skipString(buf: Buffer, at: number): number {
  const len = readInt(buf, at, 7);
  const end = len.next + len.value;
  if (end > buf.length) throw new Error('hpack: string past the end');
  return end;
}

/** A raw (not Huffman-coded) HPACK string literal. */
export function encodeRawString(text: string): Buffer {
  const body = Buffer.from(text, 'latin1');
  const head: number[] = [];
  if (body.length < 127) head.push(body.length);
  else {
    head.push(127);
    let v = body.length - 127;
    while (v >= 128) {
      head.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    head.push(v);
  }
  return Buffer.concat([Buffer.from(head), body]);
}

let decodeTable: Map<number, number>[] | undefined;

function huffmanDecode(buf: Buffer): string {
  if (!decodeTable) {
    decodeTable = Array.from({ length: 31 }, () => new Map<number, number>());
    HUFFMAN_CODES.forEach((code, sym) => decodeTable![HUFFMAN_LENGTHS[sym]!]!.set(code, sym));
  }
  let out = '';
  let code = 0;
  let bits = 0;
  for (const byte of buf) {
    for (let k = 7; k >= 0; k--) {
      code = code * 2 + ((byte >> k) & 1);
      bits++;
      const sym = decodeTable[bits]?.get(code);
      if (sym !== undefined) {
        out += String.fromCharCode(sym);
        code = 0;
        bits = 0;
      } else if (bits > 30) throw new Error('hpack: bad huffman code');
    }
  }
  return out; // the remaining bits are EOS padding
}
