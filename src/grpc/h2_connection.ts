// The server side of one HTTP/2 connection (RFC 9113), as much of it as a gRPC server needs:
// streams opened by the client, SETTINGS, PING, flow control both ways, RST_STREAM and GOAWAY.
// No server push, no priorities (PRIORITY is read and ignored, as RFC 9113 5.3.2 allows).
//
// Why not node:http2: per call, Node makes a Duplex stream, header objects and several event
// loop turns, and writes HEADERS, DATA and trailers separately. A trivial call cost 0.5 ms
// where grpc-go takes 0.17 (docs/performance.md). Here a unary answer is one socket write.
//
// Everything a client sends is bounded: frames by SETTINGS_MAX_FRAME_SIZE, a header block by
// MAX_HEADER_BLOCK, decoded headers by MAX_HEADER_LIST (h2_header_block.ts), calls by MAX_STREAMS
// (a call counts until its method settles and its answer is out, so neither resetting streams
// nor leaving answers unread frees a slot early),
// request bytes by the stream windows, which are granted again only while the connection's calls
// in progress hold less than MAX_HELD_REQUEST_BYTES (h2_held.ts), and the answers queued for a
// client that does not read by pausing the socket. Calls and held bytes are also counted in the
// server's SharedBudget, so many connections together hold no more than one server's worth
// (h2_budget.ts).

import type { Duplex } from 'node:stream';
import {
  ConnectionError, DEFAULT_MAX_FRAME, DEFAULT_WINDOW, Flag, FrameType, H2Error, MAX_WINDOW,
  SETTINGS_ACK, Setting, encodeBlock, frame, goaway, headerFrames, rstStream, settingsFrame, unpad, windowUpdate,
} from './h2_frames';
import { SharedBudget } from './h2_budget';
import { HeaderBlockReader, MAX_HEADER_LIST } from './h2_header_block';
import { HeldRequests, MAX_HELD_REQUEST_BYTES } from './h2_held';
import { FrameReader } from './h2_reader';
import { H2ServerStream, type StreamOwner } from './h2_stream';
import { FrameWriter } from './h2_writer';

/**
 * Calls in progress per connection. A call counts from its HEADERS until its method has settled
 * and its answer is out (or the stream was reset): an answer a client leaves unread behind a
 * zero window holds its memory as long as a running method does (RFC 9113 5.1.2 counts such a
 * stream as open too).
 */
export const MAX_STREAMS = 1000;
/** Each stream's receive window: what a client may send before the server grants more. */
const STREAM_WINDOW = DEFAULT_WINDOW;
/** The connection's receive window, raised once at the start. */
const CONNECTION_WINDOW = 16 * 1024 * 1024;

export type Headers = Record<string, string>;

export interface StreamListener {
  /** A new call's stream and its request headers (names lower case, repeated fields joined with ", "). */
  (stream: H2ServerStream, headers: Headers): void;
}

const SERVER_PREFACE = Buffer.concat([
  settingsFrame([
    [Setting.MAX_CONCURRENT_STREAMS, MAX_STREAMS],
    [Setting.INITIAL_WINDOW_SIZE, STREAM_WINDOW],
    [Setting.MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST],
    [Setting.ENABLE_PUSH, 0],
  ]),
  windowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW),
]);

export class H2Connection implements StreamOwner {
  maxFrame = DEFAULT_MAX_FRAME;
  connectionWindow = DEFAULT_WINDOW;
  private readonly streams = new Map<number, H2ServerStream>();
  /** Calls in progress: streams whose method has not settled or whose answer is not out yet. */
  private busy = 0;
  private lastStreamId = 0;
  private peerInitialWindow = DEFAULT_WINDOW;
  private readonly headerBlocks = new HeaderBlockReader((id, endStream, fields) => this.onHeaderBlock(id, endStream, fields));
  private readonly reader = new FrameReader((type, flags, id, p) => this.onFrame(type, flags, id, p), () => this.dead);
  /** Frames are left for a later turn (h2_reader.ts). */
  private yielding = false;
  private readonly waiting = new Set<H2ServerStream>();
  private readonly requests: HeldRequests;
  private readonly writer: FrameWriter;
  /** Connection window the client used since the last WINDOW_UPDATE for it. */
  private unacked = 0;
  private goawaySent = false;
  private dead = false;
  /** performance.now() when the connection last had no call in progress; undefined while it has some. */
  private freeSince: number | undefined = performance.now();
  /** Calls whose request has not ended yet, and when a request last ended (or the connection opened). */
  private unfinished = 0;
  private progressAt = performance.now();
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly socket: Duplex,
    private readonly onStream: StreamListener,
    maxHeld = MAX_HELD_REQUEST_BYTES,
    private readonly budget = new SharedBudget(),
  ) {
    this.requests = new HeldRequests((b) => this.emit(b), maxHeld, budget);
    socket.on('data', (chunk: Buffer) => this.onInput(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    socket.on('end', () => this.destroy());
    this.writer = new FrameWriter(socket, () => this.dead, () => this.yielding);
    this.writer.send(SERVER_PREFACE);
  }

  /** GOAWAY: no new calls; `onIdle` once the open ones have ended. */
  close(onIdle: () => void): void {
    if (this.dead) return onIdle();
    this.onIdle = onIdle;
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.writer.send(goaway(this.lastStreamId, H2Error.NO_ERROR));
    }
    this.checkIdle();
  }

  /** Cuts the connection: its calls end as cancelled. */
  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.reader.clear();
    this.socket.destroy();
    for (const s of [...this.streams.values()]) s.abort(undefined);
    this.streams.clear();
    this.waiting.clear();
    this.requests.forget();
    this.onIdle?.();
  }

  /**
   * Since when (performance.now()) the connection has done nothing useful, if it may be closed to
   * make room: it has had no call in progress, or every call it has waits on a request that made
   * no progress since before `stalledBefore`. Undefined otherwise, or while it closes.
   */
  sheddableSince(stalledBefore: number): number | undefined {
    if (this.goawaySent || this.dead) return undefined;
    if (this.freeSince !== undefined) return this.freeSince;
    return this.unfinished === this.busy && this.progressAt < stalledBefore ? this.progressAt : undefined;
  }

  /** Closes a connection that does nothing useful to make room for a new one. */
  shed(why: string): void {
    this.fail(H2Error.NO_ERROR, why);
  }

  /** Requests opened before `cutoff` (performance.now()) and still not ended by the client stall; how many. */
  expireStalled(cutoff: number): number {
    const stalled = [...this.streams.values()].filter((s) => !s.remoteEnded && s.openedAt < cutoff);
    for (const s of stalled) s.stall();
    return stalled.length;
  }

  // --- StreamOwner: what streams ask of the connection ---

  spendConnectionWindow(n: number): void {
    this.connectionWindow -= n;
  }

  emit(...bytes: Buffer[]): void {
    this.writer.emit(...bytes);
  }

  sendHeaders(streamId: number, headers: Headers, endStream: boolean): void {
    this.emit(...headerFrames(streamId, encodeBlock(headers), endStream, this.maxFrame));
  }

  blocked(stream: H2ServerStream): void {
    this.waiting.add(stream);
  }

  closed(stream: H2ServerStream, reset: H2Error | undefined): void {
    this.streams.delete(stream.id);
    if (!stream.remoteEnded) this.unfinished--;
    this.waiting.delete(stream);
    this.requests.stopOwing(stream);
    // a reset call's method may still hold its request: its bytes count until it settles
    if (stream.settled) {
      this.requests.letGoOf(stream);
      this.callEnded();
    }
    if (reset !== undefined) this.emit(rstStream(stream.id, reset));
    // gRPC: an answer that ends before the request did tells the client to stop sending
    else if (!stream.remoteEnded && stream.headersAreSent && !this.dead) this.emit(rstStream(stream.id, H2Error.NO_ERROR));
    this.checkIdle();
  }

  released(stream: H2ServerStream): void {
    this.requests.letGoOf(stream);
    if (stream.isClosed) this.callEnded();
  }

  private requestEnded(stream: H2ServerStream): void {
    stream.remoteEnded = true;
    this.unfinished--;
    this.progressAt = performance.now();
  }

  /** A call's method has settled and its stream is closed, whichever came last. */
  private callEnded(): void {
    if (--this.busy === 0) this.freeSince = performance.now();
    this.budget.endCall();
  }

  // --- reading ---

  private onInput(chunk: Buffer | undefined): void {
    if (this.dead) return;
    this.writer.whileReading(() => {
      try {
        if (this.reader.read(chunk)) this.readRestNextTurn();
        if (this.unacked > 0 && !this.dead) {
          this.emit(windowUpdate(0, this.unacked));
          this.unacked = 0;
        }
      } catch (e) {
        if (!(e instanceof ConnectionError)) throw e;
        this.fail(e.code, e.message);
      }
    });
  }

  /** Other connections' reads go first; the socket waits meanwhile, so the rest keeps its order. */
  private readRestNextTurn(): void {
    if (this.yielding) return;
    this.yielding = true;
    this.socket.pause();
    setImmediate(() => {
      this.yielding = false;
      this.onInput(undefined);
      if (!this.yielding && !this.dead && !this.writer.backedUp) this.socket.resume();
    });
  }

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.headerBlocks.open && type !== FrameType.CONTINUATION) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'a header block was interrupted');
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, id, p);
      case FrameType.HEADERS:
        return this.headerBlocks.onHeaders(flags, id, p);
      case FrameType.PRIORITY:
        if (id === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (p.length !== 5) this.resetStream(id, H2Error.FRAME_SIZE_ERROR);
        return;
      case FrameType.RST_STREAM:
        if (p.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'RST_STREAM length');
        this.existing(id, 'RST_STREAM')?.abort(undefined);
        return;
      case FrameType.SETTINGS:
        return this.onSettings(flags, id, p);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.PING:
        if (p.length !== 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'PING length');
        if (id !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'PING on a stream');
        if (!(flags & Flag.ACK)) this.emit(frame(FrameType.PING, Flag.ACK, 0, Buffer.from(p)));
        return;
      case FrameType.GOAWAY:
        if (id !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'GOAWAY on a stream');
        if (p.length < 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'GOAWAY length');
        return; // the client opens nothing new; what it has open still gets its answers
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(id, p);
      case FrameType.CONTINUATION:
        return this.headerBlocks.onContinuation(flags, id, p);
      default:
        return; // RFC 9113 4.1: unknown frame types are ignored
    }
  }

  /** The open stream `id`, or undefined for a closed one; an idle (never opened) one is a connection error. */
  private existing(id: number, what: string): H2ServerStream | undefined {
    if (id === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `${what} on stream 0`);
    if (id > this.lastStreamId) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `${what} on idle stream ${id}`);
    return this.streams.get(id);
  }

  private onData(flags: number, id: number, p: Buffer): void {
    const stream = this.existing(id, 'DATA');
    // flow control counts the whole payload, padding included (RFC 9113 6.9.1)
    this.unacked += p.length;
    const data = unpad(flags, p);
    if (!stream) return; // closed by us meanwhile (an answer, a reset): dropped
    if (stream.remoteEnded) return this.resetStream(id, H2Error.STREAM_CLOSED);
    if (p.length > stream.recvWindow) return this.resetStream(id, H2Error.FLOW_CONTROL_ERROR);
    stream.recvWindow -= p.length;
    const ended = (flags & Flag.END_STREAM) !== 0;
    if (ended) this.requestEnded(stream);
    this.requests.received(stream, p.length, ended);
    if (data.length) stream.onData?.(data);
    if (stream.remoteEnded) stream.onEnd?.();
  }

  private onHeaderBlock(id: number, endStream: boolean, fields: [string, string][]): void {
    if (id <= this.lastStreamId) {
      const stream = this.streams.get(id);
      // RFC 9113 5.1.1: a new stream's id must be above every earlier one
      if (!stream) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS on stream ${id}, not above ${this.lastStreamId}`);
      // trailers of a request end it (gRPC sends none, but HTTP/2 allows them)
      if (stream.remoteEnded) return this.resetStream(id, H2Error.STREAM_CLOSED);
      if (!endStream) return this.resetStream(id, H2Error.PROTOCOL_ERROR);
      this.requestEnded(stream);
      stream.onEnd?.();
      return;
    }
    this.lastStreamId = id;
    if (this.goawaySent || this.busy >= MAX_STREAMS || !this.budget.startCall(this.busy)) {
      this.budget.streamsRefused++;
      return void this.emit(rstStream(id, H2Error.REFUSED_STREAM));
    }
    const headers: Headers = {};
    for (const [name, value] of fields) {
      const had = headers[name];
      headers[name] = had === undefined ? value : `${had}, ${value}`;
    }
    const stream = new H2ServerStream(id, this, this.peerInitialWindow, STREAM_WINDOW);
    this.streams.set(id, stream);
    this.busy++;
    this.freeSince = undefined;
    if (endStream) stream.remoteEnded = true;
    else this.unfinished++;
    this.onStream(stream, headers);
    if (endStream) stream.onEnd?.();
  }

  private onSettings(flags: number, id: number, p: Buffer): void {
    if (id !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & Flag.ACK) {
      if (p.length) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if (p.length % 6) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'SETTINGS length');
    for (let at = 0; at < p.length; at += 6) {
      const key = p.readUInt16BE(at);
      const value = p.readUInt32BE(at + 2);
      if (key === Setting.ENABLE_PUSH && value > 1) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH');
      if (key === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'a stream window overflowed');
        }
      }
      if (key === Setting.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 16_777_215) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE');
        this.maxFrame = value;
      }
    }
    this.emit(SETTINGS_ACK);
    for (const s of [...this.streams.values()]) s.flush();
  }

  private onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const increment = p.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (increment === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.connectionWindow += increment;
      if (this.connectionWindow > MAX_WINDOW) throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, 'connection window over 2^31-1');
      const waiting = [...this.waiting];
      this.waiting.clear();
      for (const s of waiting) s.flush();
      return;
    }
    const stream = this.existing(id, 'WINDOW_UPDATE');
    if (!stream) return;
    if (increment === 0) return this.resetStream(id, H2Error.PROTOCOL_ERROR);
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) return this.resetStream(id, H2Error.FLOW_CONTROL_ERROR);
    stream.flush();
  }

  /** A stream error: RST_STREAM, and its call ends as cancelled. */
  private resetStream(id: number, code: H2Error): void {
    const stream = this.streams.get(id);
    if (stream) stream.abort(code);
    else this.emit(rstStream(id, code));
  }

  // --- ending ---

  private fail(code: H2Error, why: string): void {
    if (this.dead) return;
    this.writer.send(goaway(this.lastStreamId, code, why));
    this.dead = true;
    this.reader.clear();
    for (const s of [...this.streams.values()]) s.abort(undefined);
    this.streams.clear();
    this.requests.forget();
    this.writer.end();
    this.onIdle?.();
  }

  private checkIdle(): void {
    if (this.onIdle && this.streams.size === 0) {
      const done = this.onIdle;
      this.onIdle = undefined;
      this.writer.flush();
      this.writer.end();
      done();
    }
  }
}
