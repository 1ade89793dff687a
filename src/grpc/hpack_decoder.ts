// HPACK (RFC 7541) decoding of the header blocks a client sends. One decoder per connection: the
// dynamic table carries over from block to block. Everything a peer controls is bounded: integers,
// string lengths (by the block), the table (by the size this side announced) and the decoded list
// (by the caller's limit). Malformed input throws HpackError, which the connection answers with
// COMPRESSION_ERROR.

import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './hpack_huffman';

export class HpackError extends Error {}

/** RFC 7541 Appendix A. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** RFC 7541 4.1: an entry's size is its name and value lengths plus 32. */
const entrySize = (name: string, value: string) => name.length + value.length + 32;

export class HpackDecoder {
  private dynamic: [string, string][] = []; // newest first
  private size = 0;
  private limit: number;

  /** `maxTableSize`: the SETTINGS_HEADER_TABLE_SIZE this side announced. */
  constructor(private readonly maxTableSize = 4096) {
    this.limit = maxTableSize;
  }

  get tableSize(): number {
    return this.size;
  }

  /** The fields of one complete header block, in order. */
  decode(block: Buffer, maxListSize = Infinity): [string, string][] {
    const out: [string, string][] = [];
    let listSize = 0;
    const r = { at: 0 };
    while (r.at < block.length) {
      const b = block[r.at]!;
      let field: [string, string];
      if (b & 0x80) {
        field = this.entry(readInt(block, r, 7));
      } else if ((b & 0xe0) === 0x20) {
        // RFC 7541 4.2: only at the start of a block
        if (out.length) throw new HpackError('hpack: table size update after a field');
        const size = readInt(block, r, 5);
        if (size > this.maxTableSize) throw new HpackError(`hpack: table size ${size} above the announced ${this.maxTableSize}`);
        this.limit = size;
        this.evict(0);
        continue;
      } else {
        const indexing = (b & 0xc0) === 0x40;
        const nameIndex = readInt(block, r, indexing ? 6 : 4);
        const name = nameIndex === 0 ? readString(block, r) : this.entry(nameIndex)[0];
        field = [name, readString(block, r)];
        if (indexing) this.insert(field);
      }
      listSize += entrySize(field[0], field[1]);
      if (listSize > maxListSize) throw new HpackError(`hpack: header list larger than ${maxListSize} bytes`);
      out.push(field);
    }
    return out;
  }

  private entry(index: number): [string, string] {
    if (index === 0) throw new HpackError('hpack: index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1] as [string, string];
    const e = this.dynamic[index - STATIC_TABLE.length - 1];
    if (!e) throw new HpackError(`hpack: no table entry ${index}`);
    return e;
  }

  private insert(field: [string, string]): void {
    const size = entrySize(field[0], field[1]);
    // RFC 7541 4.4: an entry larger than the table empties it and is not added
    this.evict(size);
    if (size > this.limit) return;
    this.dynamic.unshift(field);
    this.size += size;
  }

  /** Evicts the oldest entries until `room` more octets fit (or the table is empty). */
  private evict(room: number): void {
    while (this.dynamic.length && this.size + room > this.limit) {
      const [name, value] = this.dynamic.pop()!;
      this.size -= entrySize(name, value);
    }
  }
}

/** RFC 7541 5.1; values past 2^28 are refused (no header of a gRPC call comes near). */
function readInt(buf: Buffer, r: { at: number }, prefixBits: number): number {
  if (r.at >= buf.length) throw new HpackError('hpack: integer past the end of the block');
  const max = (1 << prefixBits) - 1;
  let value = buf[r.at++]! & max;
  if (value < max) return value;
  for (let shift = 0; ; shift += 7) {
    if (r.at >= buf.length) throw new HpackError('hpack: integer past the end of the block');
    if (shift > 21) throw new HpackError('hpack: integer too large');
    const b = buf[r.at++]!;
    value += (b & 0x7f) << shift;
    if (!(b & 0x80)) return value;
  }
}

/** RFC 7541 5.2: a string literal, Huffman-coded or raw (octets taken as latin1). */
function readString(buf: Buffer, r: { at: number }): string {
  if (r.at >= buf.length) throw new HpackError('hpack: string past the end of the block');
  const huffman = (buf[r.at]! & 0x80) !== 0;
  const len = readInt(buf, r, 7);
  const end = r.at + len;
  if (end > buf.length) throw new HpackError('hpack: string past the end of the block');
  const raw = buf.subarray(r.at, end);
  r.at = end;
  return huffman ? huffmanDecode(raw) : raw.toString('latin1');
}

/**
 * The Huffman code as a binary tree in flat arrays: node n's children are at 2n and 2n+1 of
 * CHILD (0: none); SYMBOL holds a leaf's byte value, -1 for an inner node.
 */
let CHILD: Int32Array | undefined;
let SYMBOL: Int32Array;

function buildTree(): void {
  const nodes = 2 * 257;
  CHILD = new Int32Array(2 * nodes);
  SYMBOL = new Int32Array(nodes).fill(-1);
  let next = 1;
  HUFFMAN_CODES.forEach((code, sym) => {
    const len = HUFFMAN_LENGTHS[sym]!;
    let node = 0;
    for (let k = len - 1; k >= 0; k--) {
      const slot = 2 * node + ((code / 2 ** k) & 1);
      if (!CHILD![slot]) CHILD![slot] = next++;
      node = CHILD![slot]!;
    }
    SYMBOL[node] = sym;
  });
}

function huffmanDecode(buf: Buffer): string {
  if (!CHILD) buildTree();
  const child = CHILD!;
  let out = '';
  let node = 0;
  // bits read since the last symbol, and whether all were 1s: what may end the string (5.2)
  let pending = 0;
  let allOnes = true;
  for (let i = 0; i < buf.length; i++) {
    const byte = buf[i]!;
    for (let k = 7; k >= 0; k--) {
      const bit = (byte >> k) & 1;
      node = child[2 * node + bit]!;
      // no child: a prefix of EOS (all 1s, 30 bits) run past every symbol's code
      if (!node) throw new HpackError('hpack: EOS or an invalid Huffman code in a string');
      pending++;
      allOnes &&= bit === 1;
      const sym = SYMBOL[node]!;
      if (sym >= 0) {
        out += String.fromCharCode(sym);
        node = 0;
        pending = 0;
        allOnes = true;
      }
    }
  }
  if (pending > 7) throw new HpackError('hpack: Huffman padding longer than 7 bits');
  if (!allOnes) throw new HpackError('hpack: Huffman padding that is not the EOS prefix');
  return out;
}
