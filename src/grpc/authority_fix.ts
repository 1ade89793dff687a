// Go gRPC clients older than grpc-go 1.5x (crictl and critest 1.26, kubelets of that age) send the
// unix socket path as the HTTP/2 `:authority`. Node's nghttp2 refuses a `/` in an authority and
// resets every such stream with PROTOCOL_ERROR. This stream sits between the accepted socket and
// the HTTP/2 server and rewrites such an authority, in the client→server bytes, to a value of the same
// decoded length made of valid characters. Keeping the length keeps both peers' HPACK dynamic
// tables the same size, so later header blocks that refer to the entry by index stay in sync.
//
// Only connections that need it come here (connection_router.ts): a JS stream puts every byte
// through JS (JSStreamSocket), which cost 0.36 ms of server CPU per trivial call against 0.28 ms
// when nghttp2 reads the socket itself. Clients whose first :authority is valid (crictl 1.29 and
// later, grpc-js) go native; this path serves the old Go clients and any unusual first flight.

import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { INVALID_AUTHORITY_CHAR, VALID_AUTHORITY, encodeRawString, readInt, readString, skipString } from './hpack_read';

const PREFACE_LEN = 24;
const FRAME_HEADERS = 0x1;
const FRAME_SETTINGS = 0x4;
const FRAME_CONTINUATION = 0x9;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const MAX_FRAME = 16384;

export class AuthorityFix extends Duplex {
  private buf: Buffer = Buffer.alloc(0);
  private prefaceSeen = false;
  /** A HEADERS frame waiting for its CONTINUATION frames. */
  private pending: { header: Buffer; payloads: Buffer[] } | null = null;

  /** Drop the next SETTINGS ACK: it answers the SETTINGS the connection router sent, not HTTP/2's. */
  private dropSettingsAck: boolean;

  /**
   * `head` holds bytes the connection router already read from the socket; `dropSettingsAck` is
   * set when the router answered the client preface with a SETTINGS frame of its own.
   */
  constructor(
    private readonly socket: Socket,
    opts: { head?: Buffer; dropSettingsAck?: boolean } = {},
  ) {
    super();
    this.dropSettingsAck = opts.dropSettingsAck ?? false;
    if (opts.head?.length) this.push(this.transform(opts.head));
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
    this.send(chunk, cb);
  }

  // HTTP/2 hands a whole batch of frames over at once (corked): one write, one syscall, instead
  // of one per frame. Most of a small call's server CPU went to these writes.
  _writev(chunks: Array<{ chunk: Buffer }>, cb: (e?: Error | null) => void): void {
    this.send(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }

  // HTTP/2 has one write in flight at a time, and the next frames (a call's trailers) wait for it
  // to finish. The write is done for HTTP/2 once the socket took the bytes, not when the kernel
  // has: the socket keeps what the kernel could not take yet, and a full socket holds HTTP/2 back
  // until it drains. A failed write destroys the socket, and with it this stream.
  private send(data: Buffer, cb: (e?: Error | null) => void): void {
    if (this.socket.write(data)) cb();
    else this.socket.once('drain', () => cb());
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
      if (type === FRAME_SETTINGS && this.buf[4]! & FLAG_ACK && len === 0 && this.dropSettingsAck) {
        this.dropSettingsAck = false;
        this.buf = this.buf.subarray(9);
        continue;
      }
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
    if (!isAuthority) {
      i = skipString(block, i); // no need to decode what is left as it is
      continue;
    }
    const v = readString(block, i);
    i = v.next;
    if (!VALID_AUTHORITY.test(v.text)) {
      parts.push(block.subarray(copyFrom, valueStart), encodeRawString(v.text.replace(INVALID_AUTHORITY_CHAR, '-')));
      copyFrom = i;
      changed = true;
    }
  }
  if (!changed) return null;
  parts.push(block.subarray(copyFrom));
  return Buffer.concat(parts);
}
