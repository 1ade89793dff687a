// One HTTP/2 stream of a client's call, as the gRPC layer sees it: the request's DATA comes in
// through the callbacks; the answer goes out as HEADERS, DATA within the peer's flow-control
// windows, and trailers once the data is out. The connection (h2_connection.ts) owns the socket,
// the connection window and the frames' order; a stream only queues and asks it to send.

import { FrameType, H2Error, frameHeader } from './h2_frames';

/** What a stream needs of its connection. */
export interface StreamOwner {
  readonly maxFrame: number;
  /** Bytes the connection window allows now. */
  readonly connectionWindow: number;
  /** Takes `n` bytes off the connection window. */
  spendConnectionWindow(n: number): void;
  /** Queues frames for the socket, written together at the end of the current turn. */
  emit(...bytes: Buffer[]): void;
  sendHeaders(streamId: number, headers: Record<string, string>, endStream: boolean): void;
  /** The stream waits for connection window. */
  blocked(stream: H2ServerStream): void;
  /** The stream's answer is complete or it was reset: forget it. */
  closed(stream: H2ServerStream, reset: H2Error | undefined): void;
  /** The call's method has settled: its request no longer counts as held (the call counts until its stream is closed too). */
  released(stream: H2ServerStream): void;
}

/** Unsent answer bytes past which a streaming call's sender waits. */
const HIGH_WATER = 64 * 1024;

export class H2ServerStream {
  /** The request's DATA (padding removed), its end, and the end of the stream before the answer was complete. */
  onData: ((chunk: Buffer) => void) | undefined;
  onEnd: (() => void) | undefined;
  onClose: (() => void) | undefined;
  /** Called when queued answer bytes fall under the high-water mark again. */
  onDrain: (() => void) | undefined;
  /** The request has been open too long without ending; without a listener the stream is reset. */
  onStall: (() => void) | undefined;
  /** performance.now() when the request's HEADERS came. */
  readonly openedAt = performance.now();

  /** The client has ended its side (END_STREAM). */
  remoteEnded = false;
  /** Receive window of the stream: what the client may still send. */
  recvWindow: number;
  /** Request bytes the call holds until its method settles, and window withheld meanwhile. */
  held = 0;
  owed = 0;
  sendWindow: number;
  isClosed = false;
  private headersSent = false;
  private queue: Buffer[] = [];
  private queued = 0;
  private trailers: Record<string, string> | undefined;
  /** The call's method has settled (or never ran): see release(). */
  settled = false;

  constructor(
    readonly id: number,
    private readonly owner: StreamOwner,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  get headersAreSent(): boolean {
    return this.headersSent;
  }

  /** The answer's HEADERS (not the end of the stream). */
  respond(headers: Record<string, string>): void {
    if (this.isClosed || this.headersSent) return;
    this.headersSent = true;
    this.owner.sendHeaders(this.id, headers, false);
  }

  /** Queues DATA; false when the unsent bytes are over the high-water mark (onDrain follows). */
  write(data: Buffer): boolean {
    if (this.isClosed) return false;
    if (data.length) {
      this.queue.push(data);
      this.queued += data.length;
      this.flush();
    }
    return this.queued < HIGH_WATER;
  }

  /** Ends the answer: trailers once the queued data is out (a trailers-only answer if no HEADERS went). */
  end(trailers: Record<string, string>): void {
    if (this.isClosed || this.trailers) return;
    if (!this.headersSent) {
      this.headersSent = true;
      this.trailers = trailers;
      this.owner.sendHeaders(this.id, trailers, true);
      this.complete();
      return;
    }
    this.trailers = trailers;
    this.flush();
  }

  /** Sends what the windows allow; the trailers when nothing is left. */
  flush(): void {
    if (this.isClosed) return;
    const owner = this.owner;
    while (this.queued > 0) {
      const n = Math.min(this.queue[0]!.length, this.sendWindow, owner.connectionWindow, owner.maxFrame);
      if (n <= 0) {
        if (this.sendWindow > 0) owner.blocked(this);
        return;
      }
      const head = this.queue[0]!;
      const part = n === head.length ? head : head.subarray(0, n);
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      this.queued -= n;
      this.sendWindow -= n;
      owner.spendConnectionWindow(n);
      owner.emit(frameHeader(n, FrameType.DATA, 0, this.id), part);
      if (this.queued < HIGH_WATER && this.queued + n >= HIGH_WATER) this.onDrain?.();
    }
    if (this.trailers) {
      owner.sendHeaders(this.id, this.trailers, true);
      this.complete();
    }
  }

  /** The client left its request unfinished for too long (the server's stall sweep). */
  stall(): void {
    if (this.onStall) this.onStall();
    else this.abort(H2Error.CANCEL);
  }

  /** The call's method has settled (or never ran). */
  release(): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.released(this);
  }

  /** The answer's END_STREAM is out. */
  private complete(): void {
    this.isClosed = true;
    this.queue = [];
    this.queued = 0;
    this.owner.closed(this, undefined);
  }

  /** The stream ends before its answer did (the client reset it, the connection is gone). */
  abort(code: H2Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.queue = [];
    this.queued = 0;
    this.owner.closed(this, code);
    this.onClose?.();
  }
}
