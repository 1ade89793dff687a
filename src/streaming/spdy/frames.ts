// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 + the 3.1 flow-control amendment): the frame
// layouts and the name/value header block. Compression of header blocks lives in zlib-context.ts
// because it is stateful per connection and direction.

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
  FRAME_TOO_LARGE: 11,
} as const;

export const SETTINGS_INITIAL_WINDOW_SIZE = 7;
export const DEFAULT_WINDOW = 64 * 1024;
export const FRAME_HEADER_LEN = 8;
/** Frames larger than this are a protocol error: no legitimate peer sends them. */
export const MAX_FRAME_LEN = 16 * 1024 * 1024 - 1;
/** Control frames carry a compressed header block (bounded after inflation by MAX_HEADER_BLOCK)
 *  or a few fixed fields: 1 MiB of them is already far more than any client sends. */
export const MAX_CONTROL_FRAME_LEN = 1024 * 1024;

/** Header names are lower case; a value holding several values joins them with NUL. */
export type HeaderBlock = Map<string, string[]>;

export type RawFrame =
  | { control: false; streamId: number; flags: number; data: Buffer }
  | { control: true; version: number; type: number; flags: number; data: Buffer };

/** Splits one frame off the front of buf; null when buf holds less than a whole frame. */
export function readFrame(buf: Buffer): { frame: RawFrame; rest: Buffer } | null {
  if (buf.length < FRAME_HEADER_LEN) return null;
  const len = buf.readUIntBE(5, 3);
  if (buf.length < FRAME_HEADER_LEN + len) return null;
  const flags = buf[4];
  const data = buf.subarray(FRAME_HEADER_LEN, FRAME_HEADER_LEN + len);
  const rest = buf.subarray(FRAME_HEADER_LEN + len);
  const first = buf.readUInt32BE(0);
  if (first & 0x80000000) {
    return { frame: { control: true, version: (first >>> 16) & 0x7fff, type: first & 0xffff, flags, data }, rest };
  }
  return { frame: { control: false, streamId: first & 0x7fffffff, flags, data }, rest };
}

function header(first: number, flags: number, len: number): Buffer {
  if (len > MAX_FRAME_LEN) throw new RangeError(`SPDY frame too large: ${len}`);
  const h = Buffer.alloc(FRAME_HEADER_LEN);
  h.writeUInt32BE(first >>> 0, 0);
  h[4] = flags;
  h.writeUIntBE(len, 5, 3);
  return h;
}

export function controlFrame(type: number, flags: number, data: Buffer): Buffer {
  return Buffer.concat([header((0x8000 | SPDY_VERSION) * 0x10000 + type, flags, data.length), data]);
}

export function dataFrame(streamId: number, flags: number, data: Buffer): Buffer {
  return Buffer.concat([header(streamId & 0x7fffffff, flags, data.length), data]);
}

function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

export function synStreamFrame(streamId: number, flags: number, compressedHeaders: Buffer, priority = 0): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId & 0x7fffffff, 0);
  fixed.writeUInt32BE(0, 4); // associated-to-stream-id: no server push here
  fixed[8] = (priority & 7) << 5;
  fixed[9] = 0; // slot
  return controlFrame(FrameType.SYN_STREAM, flags, Buffer.concat([fixed, compressedHeaders]));
}

export function synReplyFrame(streamId: number, flags: number, compressedHeaders: Buffer): Buffer {
  return controlFrame(FrameType.SYN_REPLY, flags, Buffer.concat([u32(streamId & 0x7fffffff), compressedHeaders]));
}

export function headersFrame(streamId: number, flags: number, compressedHeaders: Buffer): Buffer {
  return controlFrame(FrameType.HEADERS, flags, Buffer.concat([u32(streamId & 0x7fffffff), compressedHeaders]));
}

export function rstStreamFrame(streamId: number, status: number): Buffer {
  return controlFrame(FrameType.RST_STREAM, 0, u32(streamId & 0x7fffffff, status));
}

export function settingsFrame(entries: Array<{ id: number; value: number; flags?: number }>): Buffer {
  const b = Buffer.alloc(4 + 8 * entries.length);
  b.writeUInt32BE(entries.length, 0);
  entries.forEach((e, i) => {
    b.writeUInt32BE((((e.flags ?? 0) & 0xff) << 24 | (e.id & 0xffffff)) >>> 0, 4 + i * 8);
    b.writeUInt32BE(e.value >>> 0, 8 + i * 8);
  });
  return controlFrame(FrameType.SETTINGS, 0, b);
}

export function pingFrame(id: number): Buffer {
  return controlFrame(FrameType.PING, 0, u32(id));
}

export function goAwayFrame(lastGoodStreamId: number, status = 0): Buffer {
  return controlFrame(FrameType.GOAWAY, 0, u32(lastGoodStreamId & 0x7fffffff, status));
}

export function windowUpdateFrame(streamId: number, delta: number): Buffer {
  return controlFrame(FrameType.WINDOW_UPDATE, 0, u32(streamId & 0x7fffffff, delta & 0x7fffffff));
}

export function parseSettings(data: Buffer): Array<{ id: number; value: number; flags: number }> {
  const n = data.readUInt32BE(0);
  if (data.length < 4 + n * 8) throw new RangeError('short SETTINGS frame');
  const out = [];
  for (let i = 0; i < n; i++) {
    const idf = data.readUInt32BE(4 + i * 8);
    out.push({ flags: idf >>> 24, id: idf & 0xffffff, value: data.readUInt32BE(8 + i * 8) });
  }
  return out;
}

/** The uncompressed name/value block: count, then (len, name, len, value) pairs, all u32 lengths. */
export function encodeHeaderBlock(headers: HeaderBlock | Record<string, string | string[]>): Buffer {
  const entries: Array<[string, string[]]> =
    headers instanceof Map ? [...headers] : Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]);
  const parts: Buffer[] = [u32(entries.length)];
  for (const [name, values] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(values.join('\0'), 'utf8');
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(buf: Buffer): HeaderBlock {
  const out: HeaderBlock = new Map();
  let off = 0;
  const need = (n: number) => {
    if (off + n > buf.length) throw new RangeError('truncated SPDY header block');
  };
  need(4);
  const count = buf.readUInt32BE(off);
  off += 4;
  for (let i = 0; i < count; i++) {
    need(4);
    const nl = buf.readUInt32BE(off);
    off += 4;
    need(nl);
    const name = buf.toString('utf8', off, off + nl).toLowerCase();
    off += nl;
    need(4);
    const vl = buf.readUInt32BE(off);
    off += 4;
    need(vl);
    const value = buf.toString('utf8', off, off + vl);
    off += vl;
    // appended in place: a block repeating one name many times stays linear
    const prev = out.get(name);
    if (prev) for (const v of value.split('\0')) prev.push(v);
    else out.set(name, value.split('\0'));
  }
  return out;
}

export function headerValue(h: HeaderBlock, name: string): string | undefined {
  return h.get(name.toLowerCase())?.[0];
}
