// Calls and their flow control seen from a raw-frame client (raw-h2.ts): a request written in
// DATA frames, the server's stream resets, window grants and answers. For the hostile-peer tests.

import { FLAG, FT, frame, grpcRequestBlock, type RawH2 } from './raw-h2';

/** DATA frame size the held-request tests send in (under the 16 KiB frame limit). */
export const DATA_CHUNK = 15 * 1024;

/**
 * HEADERS of a call to `path`, then one gRPC message filling `body` bytes (its 5-byte prefix
 * included) in DATA_CHUNK frames; END_STREAM on the last frame when `end`.
 */
export function writeRequest(c: RawH2, stream: number, path: string, body: number, end: boolean): void {
  const msg = Buffer.alloc(body);
  msg.writeUInt32BE(body - 5, 1);
  c.write(frame(FT.HEADERS, FLAG.END_HEADERS, stream, grpcRequestBlock(path)));
  for (let at = 0; at < body; at += DATA_CHUNK) {
    const last = at + DATA_CHUNK >= body;
    c.write(frame(FT.DATA, end && last ? FLAG.END_STREAM : 0, stream, msg.subarray(at, at + DATA_CHUNK)));
  }
}

/** The error code of the server's RST_STREAM on `stream`, if it sent one. */
export const rstCode = (c: RawH2, stream: number): number | undefined =>
  c.frames.find((f) => f.type === FT.RST_STREAM && f.stream === stream)?.payload.readUInt32BE(0);

/** WINDOW_UPDATE increments the server granted on each stream (not the connection's). */
export function streamGrants(c: RawH2): Map<number, number> {
  const out = new Map<number, number>();
  for (const f of c.frames) if (f.type === FT.WINDOW_UPDATE && f.stream) out.set(f.stream, (out.get(f.stream) ?? 0) + f.payload.readUInt32BE(0));
  return out;
}

export const totalOf = (grants: Map<number, number>): number => [...grants.values()].reduce((a, b) => a + b, 0);

/** Waits for the trailers (HEADERS with END_STREAM) that end `stream`'s answer. */
export const waitAnswered = (c: RawH2, stream: number, timeoutMs = 2000): Promise<number> =>
  c.waitFor((f) => f.stream === stream && f.type === FT.HEADERS && (f.flags & FLAG.END_STREAM) !== 0, 0, timeoutMs);
