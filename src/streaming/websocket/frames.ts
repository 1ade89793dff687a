// RFC 6455 framing. The server reads masked client frames and writes unmasked frames.

export const Opcode = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

export interface WsFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/**
 * The largest message (and so frame) a client may send; bigger ones are refused with close 1009
 * as soon as a frame header announces them, before their payload is read. remotecommand clients
 * send stdin in pieces of at most 32 KiB (client-go copies with a 32 KiB buffer), port-forward
 * data likewise, resize events are a few bytes: 4 MiB leaves a wide margin and bounds what one
 * connection can make the daemon hold.
 */
export const MAX_MESSAGE_PAYLOAD = 4 * 1024 * 1024;
/** Kept for callers that name the frame bound: a frame is never larger than a message. */
export const MAX_FRAME_PAYLOAD = MAX_MESSAGE_PAYLOAD;

export class FrameTooLargeError extends Error {}

export interface FrameHeader {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  /** bytes of header (with the mask key) */
  headerLen: number;
  payloadLen: number;
}

/** The header at the start of buf, or null when buf does not hold all of it yet. Throws
 *  FrameTooLargeError for a length above `max`, known from the header alone. */
export function parseFrameHeader(buf: Buffer, max = MAX_FRAME_PAYLOAD): FrameHeader | null {
  if (buf.length < 2) return null;
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  let len = b1 & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    const hi = buf.readUInt32BE(2);
    const lo = buf.readUInt32BE(6);
    if (hi > 0 || lo > max) throw new FrameTooLargeError(`frame of ${hi * 2 ** 32 + lo} bytes (the limit is ${max})`);
    len = lo;
    off = 10;
  }
  if (len > max) throw new FrameTooLargeError(`frame of ${len} bytes (the limit is ${max})`);
  const masked = (b1 & 0x80) !== 0;
  return { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, headerLen: off + (masked ? 4 : 0), payloadLen: len };
}

/** The payload of a whole frame (header included in `frame`), unmasked into a new buffer. */
export function framePayload(h: FrameHeader, frame: Buffer): Buffer {
  const payload = frame.subarray(h.headerLen, h.headerLen + h.payloadLen);
  if (!h.masked) return payload;
  const mask = frame.subarray(h.headerLen - 4, h.headerLen);
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** Splits one frame off buf (unmasking it); null when incomplete. */
export function parseFrame(buf: Buffer): { frame: WsFrame; rest: Buffer } | null {
  const h = parseFrameHeader(buf);
  if (!h || buf.length < h.headerLen + h.payloadLen) return null;
  return {
    frame: { fin: h.fin, rsv: h.rsv, opcode: h.opcode, masked: h.masked, payload: framePayload(h, buf) },
    rest: buf.subarray(h.headerLen + h.payloadLen),
  };
}

export function encodeFrame(opcode: number, payload: Buffer, fin = true): Buffer {
  const len = payload.length;
  let head: Buffer;
  if (len < 126) {
    head = Buffer.from([(fin ? 0x80 : 0) | opcode, len]);
  } else if (len < 0x10000) {
    head = Buffer.alloc(4);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 127;
    head.writeUInt32BE(Math.floor(len / 0x100000000), 2);
    head.writeUInt32BE(len >>> 0, 6);
  }
  return Buffer.concat([head, payload]);
}

export function closePayload(code: number, reason = ''): Buffer {
  const r = Buffer.from(reason, 'utf8').subarray(0, 123);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}
