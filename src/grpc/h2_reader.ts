// The client's bytes cut into frames, a bounded number per turn of the event loop. Without the
// bound, one connection's read is handled whole before any other connection's: a client that
// pipelines calls (libuv reads up to 32 × 64 KiB from one socket at a time) held every other
// client's call, kubelet's included, for 80-235 ms on this host. Past FRAMES_PER_TURN the rest
// waits for the next turn, after the other connections' reads.

import { CLIENT_PREFACE, ConnectionError, DEFAULT_MAX_FRAME, FRAME_HEADER_LEN, H2Error } from './h2_frames';

/** Frames handled from one connection before the others get a turn: a normal client sends far fewer at once. */
export const FRAMES_PER_TURN = 256;

export type FrameHandler = (type: number, flags: number, streamId: number, payload: Buffer) => void;

export class FrameReader {
  private input: Buffer | undefined;
  private prefaceSeen = false;

  constructor(
    private readonly onFrame: FrameHandler,
    /** Whether to stop at once (the connection failed while handling a frame). */
    private readonly stopped: () => boolean,
  ) {}

  /** Appends `chunk` (if any) and handles whole frames, at most FRAMES_PER_TURN; true when whole frames are left for a later turn. */
  read(chunk: Buffer | undefined): boolean {
    if (chunk) this.input = this.input?.length ? Buffer.concat([this.input, chunk]) : chunk;
    let buf = this.input;
    if (!buf) return false;
    if (!this.prefaceSeen) {
      const n = Math.min(buf.length, CLIENT_PREFACE.length);
      if (!buf.subarray(0, n).equals(CLIENT_PREFACE.subarray(0, n))) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'not an HTTP/2 client preface');
      if (n < CLIENT_PREFACE.length) return false;
      this.prefaceSeen = true;
      buf = buf.subarray(CLIENT_PREFACE.length);
    }
    let budget = FRAMES_PER_TURN;
    let more = false;
    while (buf.length >= FRAME_HEADER_LEN && !this.stopped()) {
      const length = (buf[0]! << 16) | (buf[1]! << 8) | buf[2]!;
      if (length > DEFAULT_MAX_FRAME) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
      if (buf.length < FRAME_HEADER_LEN + length) break;
      if (budget-- === 0) {
        more = true;
        break;
      }
      const type = buf[3]!;
      const flags = buf[4]!;
      const streamId = buf.readUInt32BE(5) & 0x7fffffff;
      const payload = buf.subarray(FRAME_HEADER_LEN, FRAME_HEADER_LEN + length);
      buf = buf.subarray(FRAME_HEADER_LEN + length);
      this.onFrame(type, flags, streamId, payload);
    }
    this.input = buf.length ? buf : undefined;
    return more;
  }

  /** Drops what is left unread (the connection is gone). */
  clear(): void {
    this.input = undefined;
  }
}
