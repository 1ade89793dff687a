// RFC 6455 framing. The server reads masked client frames and writes unmasked frames.

export const Opcode = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

export interface WsFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Bigger frames are refused (close 1009): no remotecommand client needs them. */
export const MAX_FRAME_PAYLOAD = 32 * 1024 * 1024;

export class FrameTooLargeError extends Error {}

/** Splits one frame off buf (unmasking it); null when incomplete. */
export function parseFrame(buf: Buffer): { frame: WsFrame; rest: Buffer } | null {
  if (buf.length < 2) return null;
  const b0 = buf[0];
  const b1 = buf[1];
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
    if (hi > 0 || lo > MAX_FRAME_PAYLOAD) throw new FrameTooLargeError('frame too large');
    len = lo;
    off = 10;
  }
  if (len > MAX_FRAME_PAYLOAD) throw new FrameTooLargeError('frame too large');
  const masked = (b1 & 0x80) !== 0;
  const maskLen = masked ? 4 : 0;
  if (buf.length < off + maskLen + len) return null;
  let payload = buf.subarray(off + maskLen, off + maskLen + len);
  if (masked) {
    const mask = buf.subarray(off, off + 4);
    const out = Buffer.allocUnsafe(len);
    for (let i = 0; i < len; i++) out[i] = payload[i] ^ mask[i & 3];
    payload = out;
  }
  return {
    frame: { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload },
    rest: buf.subarray(off + maskLen + len),
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
