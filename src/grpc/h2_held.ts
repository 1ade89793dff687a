// What a connection's calls in progress hold of their requests, and the stream window withheld
// while they hold too much (MAX_HELD_REQUEST_BYTES). The server-wide SharedBudget (h2_budget.ts)
// counts the same bytes across connections; window withheld because of it is granted once some
// connection's call lets its bytes go.

import type { BudgetDebtor, SharedBudget } from './h2_budget';
import { windowUpdate } from './h2_frames';
import type { H2ServerStream } from './h2_stream';

/**
 * Request bytes a connection's calls in progress may hold together (a request counts until its
 * method settles: the method holds the message meanwhile). Past it the server grants no more
 * stream window until some call ends, so a client that opens many streams, never ends them, or
 * sends big requests to slow methods holds at most this plus a window per stream.
 */
export const MAX_HELD_REQUEST_BYTES = 64 * 1024 * 1024;

export class HeldRequests implements BudgetDebtor {
  /** Request bytes held by calls whose method has not settled, and the streams owed window meanwhile. */
  private held = 0;
  private readonly owing = new Set<H2ServerStream>();
  /** The connection is gone: what its streams are owed no longer matters. */
  private gone = false;

  constructor(
    /** Queues a frame on the connection. */
    private readonly emit: (frame: Buffer) => void,
    private readonly maxHeld: number,
    private readonly budget: SharedBudget,
  ) {}

  /** A DATA frame's `n` bytes (padding included) came on `stream`; `ended` when it carried END_STREAM. */
  received(stream: H2ServerStream, n: number, ended: boolean): void {
    // the call holds what it reads (bounded by its message limit) until its method settles
    const counted = n > 0 && !stream.settled;
    if (counted) {
      stream.held += n;
      this.held += n;
      this.budget.hold(n);
    }
    if (ended) this.stopOwing(stream);
    else if (counted) {
      // the client may send as much again while the calls hold less than their limits together
      const serverAllows = this.budget.allows(this.held);
      if (this.held <= this.maxHeld && serverAllows) this.grant(stream, n);
      else {
        stream.owed += n;
        this.owing.add(stream);
        if (!serverAllows) this.budget.owe(this);
      }
    }
  }

  private grant(stream: H2ServerStream, n: number): void {
    stream.recvWindow += n;
    this.emit(windowUpdate(stream.id, n));
  }

  /** The stream takes no more data (its request ended, or it closed): what it was owed lapses. */
  stopOwing(stream: H2ServerStream): void {
    stream.owed = 0;
    this.owing.delete(stream);
  }

  /** The stream's method settled: what its request held no longer counts. */
  letGoOf(stream: H2ServerStream): void {
    const n = stream.held;
    if (n === 0) return;
    this.held -= n;
    stream.held = 0;
    this.stopOwing(stream);
    this.payOwed();
    // other connections may have waited on the server's budget
    this.budget.letGo(n);
  }

  payOwed(): boolean {
    for (const s of this.owing) {
      if (this.held > this.maxHeld || !this.budget.allows(this.held)) break;
      this.owing.delete(s);
      const n = s.owed;
      s.owed = 0;
      if (!s.isClosed && !s.remoteEnded) this.grant(s, n);
    }
    return this.owing.size === 0 || this.gone;
  }

  /** The connection is gone: the server's budget owes it nothing more. */
  forget(): void {
    this.gone = true;
    this.budget.forget(this);
  }
}
