// One HTTP/2 frame built by hand from RFC 9113 section 4.1: 24-bit length, type, flags, 31-bit
// stream id, payload. No dependencies, so unit tests can use it too.

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}
