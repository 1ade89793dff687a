// Go gRPC clients older than grpc-go 1.5x (crictl and critest 1.26, kubelets of that age) send the
// unix socket path as the HTTP/2 `:authority`. Node's nghttp2 refuses a `/` in an authority and
// resets every such stream with PROTOCOL_ERROR. This stream sits between the accepted socket and
// grpc-js and rewrites such an authority, in the client→server bytes, to a value of the same
// decoded length made of valid characters. Keeping the length keeps both peers' HPACK dynamic
// tables the same size, so later header blocks that refer to the entry by index stay in sync.

import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './hpack_huffman';

const PREFACE_LEN = 24;
const FRAME_HEADERS = 0x1;
const FRAME_CONTINUATION = 0x9;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const MAX_FRAME = 16384;

/** Characters nghttp2 accepts in an authority. */
const VALID = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;
const INVALID_CHAR = /[^A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]/g;

export class AuthorityFix extends Duplex {
  private buf: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  /** A HEADERS frame waiting for its CONTINUATION frames. */
  private pending: { header: Buffer; payloads: Buffer[] } | null = null;

  constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(this.transform(chunk))) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (e) => this.destroy(e));
    socket.on('close', () => this.destroy());
  }

  _read(): void {
    this.socket.resume();
  }

  _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.socket.write(chunk, cb);
  }

  // HTTP/2 hands a whole batch of frames over at once (corked): one write, one syscall, instead
  // of one per frame. Most of a small call's server CPU went to these writes.
  _writev(chunks: Array<{ chunk: Buffer }>, cb: (e?: Error | null) => void): void {
    this.socket.write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  _final(cb: (e?: Error | null) => void): void {
    this.socket.end(cb);
  }

  _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }

  /** Bytes of a non-header frame still to pass through untouched. */
  private skip = 0;

  // Passes bytes through, holding back only an incomplete frame header or header frame.
  private transform(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      out.push(chunk.subarray(0, n));
      chunk = chunk.subarray(n);
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.prefaceSeen) {
      if (this.buf.length < PREFACE_LEN) return Buffer.concat(out);
      out.push(this.buf.subarray(0, PREFACE_LEN));
      this.buf = this.buf.subarray(PREFACE_LEN);
      this.prefaceSeen = true;
    }
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3);
      const type = this.buf[3]!;
      if (type !== FRAME_HEADERS && type !== FRAME_CONTINUATION && !this.pending) {
        // Not a header frame: pass through what we have of it now, the rest as it comes.
        const n = Math.min(this.buf.length, 9 + len);
        out.push(this.buf.subarray(0, n));
        this.skip = 9 + len - n;
        this.buf = this.buf.subarray(n);
        continue;
      }
      if (this.buf.length < 9 + len) break;
      const frame = this.buf.subarray(0, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      out.push(this.onHeaderFrame(frame));
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  private onHeaderFrame(frame: Buffer): Buffer {
    const type = frame[3]!;
    const flags = frame[4]!;
    if (type === FRAME_HEADERS) {
      if (flags & FLAG_END_HEADERS) return rewriteHeaders(frame);
      this.pending = { header: frame, payloads: [] };
      return Buffer.alloc(0);
    }
    if (!this.pending) return frame; // CONTINUATION without HEADERS: let nghttp2 complain
    this.pending.payloads.push(frame.subarray(9));
    if (!(flags & FLAG_END_HEADERS)) return Buffer.alloc(0);
    const { header, payloads } = this.pending;
    this.pending = null;
    const merged = Buffer.concat([header, ...payloads]);
    if (merged.length - 9 > MAX_FRAME) return Buffer.concat([header, ...payloads.map((p, i) => continuation(header, p, i === payloads.length - 1))]);
    merged.writeUIntBE(merged.length - 9, 0, 3);
    merged[4] = header[4]! | FLAG_END_HEADERS;
    return rewriteHeaders(merged);
  }

}

function continuation(header: Buffer, payload: Buffer, last: boolean): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = FRAME_CONTINUATION;
  h[4] = last ? FLAG_END_HEADERS : 0;
  header.copy(h, 5, 5, 9);
  return Buffer.concat([h, payload]);
}

/** Returns the HEADERS frame with a fixed :authority, or the frame itself if nothing to fix. */
export function rewriteHeaders(frame: Buffer): Buffer {
  const flags = frame[4]!;
  let p = 9;
  let end = frame.length;
  if (flags & FLAG_PADDED) {
    const pad = frame[p]!;
    p += 1;
    end -= pad;
  }
  const prio = flags & FLAG_PRIORITY ? frame.subarray(p, p + 5) : Buffer.alloc(0);
  p += prio.length;
  if (p > end) return frame;
  const block = frame.subarray(p, end);
  let fixed: Buffer | null;
  try {
    fixed = fixAuthority(block);
  } catch {
    return frame; // malformed: let nghttp2 reject it as it would
  }
  if (!fixed) return frame;
  const header = Buffer.from(frame.subarray(0, 9));
  header[4] = flags & ~FLAG_PADDED;
  header.writeUIntBE(prio.length + fixed.length, 0, 3);
  return Buffer.concat([header, prio, fixed]);
}

/** The header block with an invalid :authority value replaced, or null if it needs no change. */
export function fixAuthority(block: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let changed = false;
  let i = 0;
  let copyFrom = 0;
  while (i < block.length) {
    const b = block[i]!;
    if (b & 0x80) {
      i = readInt(block, i, 7).next;
      continue;
    }
    if ((b & 0xe0) === 0x20) {
      i = readInt(block, i, 5).next;
      continue;
    }
    const prefix = (b & 0xc0) === 0x40 ? 6 : 4;
    const name = readInt(block, i, prefix);
    i = name.next;
    let isAuthority = name.value === 1;
    if (name.value === 0) {
      const n = readString(block, i);
      isAuthority = n.text === ':authority';
      i = n.next;
    }
    const valueStart = i;
    const v = readString(block, i);
    i = v.next;
    if (isAuthority && !VALID.test(v.text)) {
      parts.push(block.subarray(copyFrom, valueStart), encodeRawString(v.text.replace(INVALID_CHAR, '-')));
      copyFrom = i;
      changed = true;
    }
  }
  if (!changed) return null;
  parts.push(block.subarray(copyFrom));
  return Buffer.concat(parts);
}

function readInt(buf: Buffer, at: number, prefixBits: number): { value: number; next: number } {
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

function readString(buf: Buffer, at: number): { text: string; next: number } {
  const huffman = (buf[at]! & 0x80) !== 0;
  const len = readInt(buf, at, 7);
  const start = len.next;
  const end = start + len.value;
  if (end > buf.length) throw new Error('hpack: string past the end');
  const raw = buf.subarray(start, end);
  return { text: huffman ? huffmanDecode(raw) : raw.toString('latin1'), next: end };
}

function encodeRawString(text: string): Buffer {
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
