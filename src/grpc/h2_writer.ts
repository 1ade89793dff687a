// The output side of one HTTP/2 connection (h2_connection.ts): frames are queued and leave in as
// few socket writes as possible, and a client that does not read its answers is not read either.

import type { Duplex } from 'node:stream';

/** Unwritten bytes past which the connection stops reading (a client that sends but does not read). */
const WRITE_HIGH_WATER = 1024 * 1024;

export class FrameWriter {
  private out: Buffer[] = [];
  private flushQueued = false;
  /** Set while the client's bytes are read: frames emitted meanwhile leave at the end of that read. */
  private reading = false;

  constructor(
    private readonly socket: Duplex,
    /** The connection is gone: nothing more is queued or written. */
    private readonly dead: () => boolean,
    /** The connection holds its reading for a reason of its own (it yields a turn to others). */
    private readonly holdsReading: () => boolean = () => false,
  ) {
    // a drain during a yielded turn must not resume early: the yield resumes at its end
    socket.on('drain', () => socket.isPaused() && !this.dead() && !this.holdsReading() && socket.resume());
  }

  /** Past the high-water mark: the connection must not read until the socket drains. */
  get backedUp(): boolean {
    return this.socket.writableLength > WRITE_HIGH_WATER;
  }

  emit(...bytes: Buffer[]): void {
    if (this.dead()) return;
    for (const b of bytes) this.out.push(b);
    // one socket write per turn: a unary answer's HEADERS, DATA and trailers leave together
    if (!this.flushQueued && !this.reading) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
  }

  /** Queues `bytes` and writes them, with all queued before, now (the preface, a GOAWAY). */
  send(...bytes: Buffer[]): void {
    this.emit(...bytes);
    this.flush();
  }

  /** Runs `read` (the handling of the client's bytes), then writes what it emitted. */
  whileReading(read: () => void): void {
    this.reading = true;
    try {
      read();
    } finally {
      this.reading = false;
    }
    // what the read produced (ACKs, window updates, answers given at once) in one write
    this.flush();
  }

  /** Writes what is queued now, in one socket write. */
  readonly flush = (): void => {
    this.flushQueued = false;
    if (!this.out.length || this.dead()) return;
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    // a client that keeps sending (PINGs, SETTINGS) but reads nothing is not read either
    if (!this.socket.write(bytes) && this.backedUp) this.socket.pause();
  };

  /** Ends the socket once what was written has left. */
  end(): void {
    this.socket.end();
    // a client that does not read its GOAWAY does not hold the socket open
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}
