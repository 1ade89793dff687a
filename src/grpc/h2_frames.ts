// HTTP/2 (RFC 9113) frame layout, the frames the server writes and the padding of those it reads,
// and the HPACK encoding of its own header blocks. The server never adds to the peer's dynamic
// table: every field it sends is an indexed static entry or a literal without indexing, so the
// peer's table size never matters.

export const FRAME_HEADER_LEN = 9;
/** RFC 9113 6.5.2: the SETTINGS_MAX_FRAME_SIZE both sides start with. */
export const DEFAULT_MAX_FRAME = 16_384;
/** RFC 9113 6.9.2: the flow-control windows every stream and the connection start with. */
export const DEFAULT_WINDOW = 65_535;
export const MAX_WINDOW = 2 ** 31 - 1;

export const enum FrameType {
  DATA = 0x0,
  HEADERS = 0x1,
  PRIORITY = 0x2,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PUSH_PROMISE = 0x5,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
  CONTINUATION = 0x9,
}

export const enum Flag {
  END_STREAM = 0x1,
  ACK = 0x1,
  END_HEADERS = 0x4,
  PADDED = 0x8,
  PRIORITY = 0x20,
}

/** RFC 9113 7. */
export const enum H2Error {
  NO_ERROR = 0x0,
  PROTOCOL_ERROR = 0x1,
  INTERNAL_ERROR = 0x2,
  FLOW_CONTROL_ERROR = 0x3,
  STREAM_CLOSED = 0x5,
  FRAME_SIZE_ERROR = 0x6,
  REFUSED_STREAM = 0x7,
  CANCEL = 0x8,
  COMPRESSION_ERROR = 0x9,
  ENHANCE_YOUR_CALM = 0xb,
}

export const enum Setting {
  HEADER_TABLE_SIZE = 0x1,
  ENABLE_PUSH = 0x2,
  MAX_CONCURRENT_STREAMS = 0x3,
  INITIAL_WINDOW_SIZE = 0x4,
  MAX_FRAME_SIZE = 0x5,
  MAX_HEADER_LIST_SIZE = 0x6,
}

/** A connection error (RFC 9113 5.4.1): the connection ends with GOAWAY and `code`. */
export class ConnectionError extends Error {
  constructor(
    readonly code: H2Error,
    message: string,
  ) {
    super(message);
  }
}

/** RFC 9113 3.4. */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function frameHeader(length: number, type: FrameType, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_LEN);
  h[0] = length >>> 16;
  h[1] = (length >>> 8) & 0xff;
  h[2] = length & 0xff;
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return h;
}

export function frame(type: FrameType, flags: number, streamId: number, payload?: Buffer): Buffer {
  const h = frameHeader(payload?.length ?? 0, type, flags, streamId);
  return payload?.length ? Buffer.concat([h, payload]) : h;
}

export function settingsFrame(settings: [Setting, number][]): Buffer {
  const p = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    p.writeUInt16BE(id, 6 * i);
    p.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, p);
}

export const SETTINGS_ACK = frame(FrameType.SETTINGS, Flag.ACK, 0);

export function windowUpdate(streamId: number, increment: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, p);
}

export function rstStream(streamId: number, code: H2Error): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(code, 0);
  return frame(FrameType.RST_STREAM, 0, streamId, p);
}

export function goaway(lastStreamId: number, code: H2Error, debug = ''): Buffer {
  const text = Buffer.from(debug.slice(0, 200), 'utf8');
  const p = Buffer.allocUnsafe(8 + text.length);
  p.writeUInt32BE(lastStreamId, 0);
  p.writeUInt32BE(code, 4);
  text.copy(p, 8);
  return frame(FrameType.GOAWAY, 0, 0, p);
}

/** RFC 9113 6.1/6.2: a PADDED frame's content without its pad length byte and padding. */
export function unpad(flags: number, p: Buffer): Buffer {
  if (!(flags & Flag.PADDED)) return p;
  if (p.length < 1 || p[0]! >= p.length) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'padding as long as the frame');
  return p.subarray(1, p.length - p[0]!);
}

/**
 * A header block as HEADERS and, when it is larger than the peer's frame limit, CONTINUATION
 * frames. `endStream` marks trailers (and trailers-only answers).
 */
export function headerFrames(streamId: number, block: Buffer, endStream: boolean, maxFrame: number): Buffer[] {
  const endFlag = endStream ? Flag.END_STREAM : 0;
  if (block.length <= maxFrame) return [frameHeader(block.length, FrameType.HEADERS, endFlag | Flag.END_HEADERS, streamId), block];
  const out: Buffer[] = [];
  for (let at = 0; at < block.length; at += maxFrame) {
    const part = block.subarray(at, at + maxFrame);
    const last = at + maxFrame >= block.length;
    const type = at === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    out.push(frameHeader(part.length, type, (at === 0 ? endFlag : 0) | (last ? Flag.END_HEADERS : 0), streamId), part);
  }
  return out;
}

/** RFC 7541 5.1. */
function encodeInt(out: number[], first: number, prefixBits: number, value: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(first | value);
    return;
  }
  out.push(first | max);
  value -= max;
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/** RFC 7541 Appendix A: the static entries the server names (name only, or name and value). */
const STATIC_NAME: Record<string, number> = { ':status': 8, 'content-type': 31 };
const STATIC_FIELD: Record<string, number> = { ':status 200': 8 };

/** A header block of `headers`, in order: indexed static fields, else literals without indexing (6.2.2), raw strings. */
export function encodeHeaderBlock(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const bytes: number[] = [];
    const full = STATIC_FIELD[`${name} ${value}`];
    if (full !== undefined) {
      encodeInt(bytes, 0x80, 7, full);
      parts.push(Buffer.from(bytes));
      continue;
    }
    const nameIndex = STATIC_NAME[name];
    encodeInt(bytes, 0x00, 4, nameIndex ?? 0);
    parts.push(Buffer.from(bytes));
    if (nameIndex === undefined) parts.push(rawString(name));
    parts.push(rawString(value));
  }
  return Buffer.concat(parts);
}

function rawString(text: string): Buffer {
  const body = Buffer.from(text, 'latin1');
  const head: number[] = [];
  encodeInt(head, 0x00, 7, body.length);
  return Buffer.concat([Buffer.from(head), body]);
}

/** Header blocks the server sends on every call, encoded once. */
const encodedBlocks = new Map<Record<string, string>, Buffer>();

export function encodeBlock(headers: Record<string, string>): Buffer {
  const kept = encodedBlocks.get(headers);
  if (kept) return kept;
  return encodeHeaderBlock(headers);
}

/** Keeps `headers`' encoding: for the constant objects (the answer's HEADERS, OK trailers). */
export function keepEncoded(headers: Record<string, string>): Record<string, string> {
  encodedBlocks.set(headers, encodeHeaderBlock(headers));
  return headers;
}
