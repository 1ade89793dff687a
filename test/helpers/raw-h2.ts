// An HTTP/2 client that writes frames exactly as the test orders them, to play clients whose first
// flight Node's own http2 client never sends: one that waits between its preface and its first
// request (Go gRPC), one that ACKs the server's SETTINGS late, pings first, or sends garbage.
// Frames and HPACK literals are built by hand from RFC 9113 and RFC 7541.

import { connect, type Socket } from 'node:net';
import { frame } from './h2_frame';
import { protoRoot } from './raw-grpc';

export { frame };

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const T = { DATA: 0x0, HEADERS: 0x1, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8 } as const;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export const SETTINGS = frame(T.SETTINGS, 0, 0);
export const SETTINGS_ACK = frame(T.SETTINGS, 0x1, 0);
export const PING = frame(T.PING, 0, 0, Buffer.from('nori-png'));

const raw = (s: string) => {
  if (s.length > 126) throw new Error('raw-h2: long literals are not needed here');
  return Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);
};

/** HEADERS (END_HEADERS) + DATA (END_STREAM) of a unary call with an empty request message. */
export function unaryCall(stream: number, path: string, authority: string): Buffer {
  const block = Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static 3 and 6)
    Buffer.from([0x04]), raw(path), // :path, literal without indexing (name: static 4)
    Buffer.from([0x41]), raw(authority), // :authority, literal with incremental indexing (name: static 1)
    Buffer.from([0x0f, 31 - 15]), raw('application/grpc'), // content-type (static 31)
    Buffer.from([0x00]), raw('te'), raw('trailers'),
  ]);
  return Buffer.concat([frame(T.HEADERS, 0x4, stream, block), frame(T.DATA, 0x1, stream, Buffer.alloc(5))]);
}

export class RawH2 {
  readonly frames: Frame[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  /** ACK every SETTINGS of the server as it arrives, as a client would; off to ACK by hand. */
  autoAck = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 9 && this.buf.length >= 9 + this.buf.readUIntBE(0, 3)) {
        const len = this.buf.readUIntBE(0, 3);
        const f = { type: this.buf[3]!, flags: this.buf[4]!, stream: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) };
        this.frames.push(f);
        if (this.autoAck && f.type === T.SETTINGS && !(f.flags & 0x1)) socket.write(SETTINGS_ACK);
        this.buf = this.buf.subarray(9 + len);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(path: string): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new RawH2(s)));
      s.once('error', reject);
    });
  }

  write(...parts: Buffer[]): void {
    this.socket.write(Buffer.concat(parts));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the index of the first frame at or after `from` that matches; rejects if the connection closes first. */
  async waitFor(pred: (f: Frame) => boolean, from = 0, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f, k) => k >= from && pred(f));
      if (i >= 0) return i;
      if (this.closed) throw new Error(`raw-h2: connection closed; frames seen: ${this.describe()}`);
      if (Date.now() > deadline) throw new Error(`raw-h2: no such frame within ${timeoutMs} ms; frames seen: ${this.describe()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Waits for the trailers of `stream` and decodes its one response message as a VersionResponse. */
  async versionAnswer(stream: number): Promise<Record<string, unknown>> {
    await this.waitFor((f) => f.type === T.HEADERS && f.stream === stream && (f.flags & 0x1) !== 0);
    const data = Buffer.concat(this.frames.filter((f) => f.type === T.DATA && f.stream === stream).map((f) => f.payload));
    if (data.length < 5) throw new Error(`raw-h2: stream ${stream} ended without a message`);
    const type = protoRoot().lookupType('runtime.v1.VersionResponse');
    return type.toObject(type.decode(data.subarray(5, 5 + data.readUInt32BE(1))));
  }

  /** Waits for the connection to close; returns whether it did. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    await this.waitFor(() => false, 0, timeoutMs).catch(() => undefined);
    return this.closed;
  }

  describe(): string {
    return this.frames.map((f) => `${f.type}/${f.flags}/${f.stream}`).join(' ');
  }

  close(): void {
    this.socket.destroy();
  }
}
