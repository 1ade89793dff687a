// One client-initiated SPDY stream as a Duplex: frames the connection receives are pushed into
// it, writes become DATA frames through the connection's ordered queue.

import { Duplex } from 'node:stream';
import { RstStatus, type HeaderBlock } from './frames';

/** What a stream needs of its connection (implemented by SpdyConnection). */
export interface StreamOwner {
  sendData(s: SpdyStream, data: Buffer): Promise<void>;
  sendFin(s: SpdyStream): Promise<void>;
  resetStream(s: SpdyStream, status: number): void;
  forget(s: SpdyStream): void;
  /** the stream's reader wants more: the connection may read from the client again */
  release(id: number): void;
}

/** What a stream's reader may fall behind before the connection stops reading from the client.
 *  spdystream clients ignore SPDY windows, so TCP is the only back-pressure: without this a
 *  client could fill the daemon's memory with stdin a process never reads. */
const STREAM_BUFFER = 1 << 20;

export class SpdyStream extends Duplex {
  sendWindow: number;
  /** decompressed header bytes received for this stream (SYN_STREAM and HEADERS) */
  headerBytes = 0;
  remoteClosed = false;
  localClosed = false;
  private windowWaiters: Array<() => void> = [];

  constructor(
    readonly id: number,
    readonly headers: HeaderBlock,
    private readonly conn: StreamOwner,
    initialWindow: number,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: STREAM_BUFFER });
    this.sendWindow = initialWindow;
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  /** Aborts the stream in both directions (RST_STREAM CANCEL). */
  reset(status: number = RstStatus.CANCEL): void {
    this.conn.resetStream(this, status);
  }

  _read(): void {
    // Data is pushed as frames arrive; the peer is granted window on receipt. A reader that
    // asks for more lets the connection read from the client again.
    this.conn.release(this.id);
  }

  _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.conn.sendData(this, chunk).then(() => cb(), cb);
  }

  _final(cb: (err?: Error | null) => void): void {
    this.conn.sendFin(this).then(() => cb(), cb);
  }

  _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.conn.release(this.id);
    this.wakeWindowWaiters();
    this.conn.forget(this);
    cb(err);
  }

  /** @internal */
  waitForWindow(): Promise<void> {
    return new Promise((resolve) => this.windowWaiters.push(resolve));
  }

  /** @internal */
  wakeWindowWaiters(): void {
    const w = this.windowWaiters;
    this.windowWaiters = [];
    for (const f of w) f();
  }
}

