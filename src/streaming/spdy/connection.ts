// The server side of a SPDY/3.1 session over an upgraded HTTP socket: client-initiated streams
// (odd ids) become Duplex SpdyStreams; every outgoing frame goes through one ordered queue
// because header compression is stateful and asynchronous.
//
// Flow control: we grant windows back as soon as data arrives (the consumer's backpressure is
// the process pipe). For sending we honour the peer's windows only once it has shown it speaks
// 3.1 flow control (sent a WINDOW_UPDATE or an initial-window SETTING): Go's spdystream, which
// kubectl and crictl use, never sends WINDOW_UPDATE and would otherwise stall every stream at
// 64 KiB. TCP backpressure (socket drain) applies always.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import {
  DEFAULT_WINDOW,
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  FrameType,
  type HeaderBlock,
  type RawFrame,
  RstStatus,
  SETTINGS_INITIAL_WINDOW_SIZE,
  decodeHeaderBlock,
  encodeHeaderBlock,
  goAwayFrame,
  dataFrame,
  parseSettings,
  pingFrame,
  readFrame,
  rstStreamFrame,
  synReplyFrame,
  windowUpdateFrame,
  MAX_FRAME_LEN,
  MAX_CONTROL_FRAME_LEN,
  SPDY_VERSION,
} from './frames';
import { ByteQueue } from '../byte-queue';
import { SpdyStream, type StreamOwner } from './stream';
import { HeaderCompressor, HeaderDecompressor, MAX_HEADER_BLOCK } from './zlib-context';

export { SpdyStream };

const MAX_DATA_CHUNK = 16 * 1024;
/** Open streams per connection: remotecommand uses at most 5, port-forward 2 per forwarded
 *  connection; past this a new stream is refused (RST_STREAM REFUSED_STREAM), so a client
 *  cannot make the daemon hold streams without bound (unpaired port-forward streams wait 30 s). */
export const MAX_STREAMS = 1000;

export interface SpdyConnectionEvents {
  stream: (s: SpdyStream) => void;
  close: () => void;
}

export class SpdyConnection extends EventEmitter implements StreamOwner {
  private readonly streams = new Map<number, SpdyStream>();
  private readonly inflater = new HeaderDecompressor();
  private readonly deflater = new HeaderCompressor();
  private readonly inq = new ByteQueue();
  /** streams whose reader is behind: the socket is paused while any is */
  private readonly holds = new Set<number>();
  private pumping = false;
  private out: Promise<void> = Promise.resolve();
  private lastStreamId = 0;
  private goingAway = false;
  private closed = false;
  private peerFlowControl = false;
  private initialSendWindow = DEFAULT_WINDOW;
  private sessionSendWindow = DEFAULT_WINDOW;
  private sessionWaiters: Array<() => void> = [];

  constructor(private readonly socket: Socket, head?: Buffer) {
    super();
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.teardown());
    socket.on('close', () => this.teardown());
    socket.on('error', () => this.teardown());
    if (head && head.length > 0) this.onData(head);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends GOAWAY after everything queued, then ends the socket. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.goingAway = true;
    return this.enqueue(() => goAwayFrame(this.lastStreamId, 0)).then(
      () => new Promise<void>((resolve) => {
        this.socket.end(() => resolve());
        setTimeout(() => {
          this.socket.destroy();
          resolve();
        }, 2000).unref();
      }),
      () => undefined,
    );
  }

  destroy(): void {
    this.socket.destroy();
    this.teardown();
  }

  /** @internal */
  async sendData(s: SpdyStream, data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      if (this.closed || s.destroyed) throw new Error('SPDY stream closed');
      let n = Math.min(MAX_DATA_CHUNK, data.length - off);
      if (this.peerFlowControl) {
        while (s.sendWindow <= 0 || this.sessionSendWindow <= 0) {
          await (s.sendWindow <= 0 ? s.waitForWindow() : new Promise<void>((r) => this.sessionWaiters.push(r)));
          if (this.closed || s.destroyed) throw new Error('SPDY stream closed');
        }
        n = Math.min(n, s.sendWindow, this.sessionSendWindow);
        s.sendWindow -= n;
        this.sessionSendWindow -= n;
      }
      const piece = data.subarray(off, off + n);
      off += n;
      await this.enqueue(() => dataFrame(s.id, 0, piece));
    }
  }

  /** @internal */
  async sendFin(s: SpdyStream): Promise<void> {
    if (s.localClosed || this.closed) return;
    s.localClosed = true;
    await this.enqueue(() => dataFrame(s.id, FLAG_FIN, Buffer.alloc(0)));
    this.maybeForget(s);
  }

  /** @internal */
  resetStream(s: SpdyStream, status: number): void {
    if (!this.closed) void this.enqueue(() => rstStreamFrame(s.id, status)).catch(() => undefined);
    s.localClosed = s.remoteClosed = true;
    s.destroy();
  }

  /** @internal */
  forget(s: SpdyStream): void {
    this.streams.delete(s.id);
  }

  private maybeForget(s: SpdyStream): void {
    if (s.localClosed && s.remoteClosed) this.streams.delete(s.id);
  }

  /** Frames leave in call order; make() runs when the frame's turn comes (compression state). */
  private enqueue(make: () => Buffer | Promise<Buffer>): Promise<void> {
    const run = async () => {
      if (this.closed) throw new Error('SPDY connection closed');
      const frame = await make();
      if (!this.socket.write(frame)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.socket.off('drain', done);
            this.socket.off('close', done);
            resolve();
          };
          this.socket.on('drain', done);
          this.socket.on('close', done);
        });
      }
    };
    const p = this.out.then(run);
    this.out = p.catch(() => undefined);
    return p;
  }

  private onData(d: Buffer): void {
    if (this.closed) return;
    this.inq.push(d);
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        if (this.closed) return;
        if (this.inq.length < 8) return;
        const head = this.inq.peek(8);
        const len = head.readUIntBE(5, 3);
        // refused from the header alone, before the frame's bytes are held
        if (len > MAX_FRAME_LEN) throw new Error(`SPDY frame of ${len} bytes`);
        if (head[0]! & 0x80 && len > MAX_CONTROL_FRAME_LEN) throw new Error(`SPDY control frame of ${len} bytes`);
        if (this.inq.length < 8 + len) return;
        const r = readFrame(this.inq.take(8 + len))!;
        await this.handle(r.frame);
      }
    } catch (e) {
      // A framing or compression error leaves the session unusable (shared zlib state).
      this.emit('protocolError', e);
      this.destroy();
    } finally {
      this.pumping = false;
    }
  }

  private async handle(f: RawFrame): Promise<void> {
    if (!f.control) return this.onDataFrame(f.streamId, f.flags, f.data);
    if (f.version !== SPDY_VERSION) throw new Error(`unsupported SPDY version ${f.version}`);
    const d = f.data;
    switch (f.type) {
      case FrameType.SYN_STREAM: {
        const id = d.readUInt32BE(0) & 0x7fffffff;
        const block = await this.inflater.process(d.subarray(10));
        return this.onSynStream(id, f.flags, decodeHeaderBlock(block), block.length);
      }
      case FrameType.HEADERS: {
        const id = d.readUInt32BE(0) & 0x7fffffff;
        const block = await this.inflater.process(d.subarray(4));
        const headers = decodeHeaderBlock(block);
        const s = this.streams.get(id);
        if (!s) return;
        // later HEADERS frames add to the stream's headers: bounded in total, as one block is
        s.headerBytes += block.length;
        if (s.headerBytes > MAX_HEADER_BLOCK) {
          this.resetStream(s, RstStatus.PROTOCOL_ERROR);
          return;
        }
        for (const [k, v] of headers) {
          const prev = s.headers.get(k);
          if (prev) for (const x of v) prev.push(x);
          else s.headers.set(k, v);
        }
        if (f.flags & FLAG_FIN) this.remoteFin(s);
        return;
      }
      case FrameType.SYN_REPLY:
        // We never open streams, so a reply is for nothing we know; its block must still be
        // inflated to keep the shared zlib state in step.
        await this.inflater.process(d.subarray(4));
        return;
      case FrameType.RST_STREAM: {
        const s = this.streams.get(d.readUInt32BE(0) & 0x7fffffff);
        if (s) {
          s.remoteClosed = s.localClosed = true;
          s.push(null);
          s.destroy();
        }
        return;
      }
      case FrameType.SETTINGS: {
        for (const e of parseSettings(d)) {
          if (e.id === SETTINGS_INITIAL_WINDOW_SIZE) {
            const delta = e.value - this.initialSendWindow;
            this.initialSendWindow = e.value;
            this.peerFlowControl = true;
            for (const s of this.streams.values()) s.sendWindow += delta;
          }
        }
        return;
      }
      case FrameType.PING: {
        const id = d.readUInt32BE(0);
        // Odd ids are the client's: echo them. Even ones would be answers to our own pings.
        if (id % 2 === 1) await this.enqueue(() => pingFrame(id)).catch(() => undefined);
        return;
      }
      case FrameType.GOAWAY:
        this.goingAway = true;
        return;
      case FrameType.WINDOW_UPDATE: {
        const id = d.readUInt32BE(0) & 0x7fffffff;
        const delta = d.readUInt32BE(4) & 0x7fffffff;
        this.peerFlowControl = true;
        if (id === 0) {
          this.sessionSendWindow += delta;
          const w = this.sessionWaiters;
          this.sessionWaiters = [];
          for (const fn of w) fn();
        } else {
          const s = this.streams.get(id);
          if (s) {
            s.sendWindow += delta;
            s.wakeWindowWaiters();
          }
        }
        return;
      }
      default:
        return; // unknown control frames are ignored (spec 2.2.1)
    }
  }

  private onSynStream(id: number, flags: number, headers: HeaderBlock, headerBytes: number): void {
    if (id % 2 === 0 || id <= this.lastStreamId) {
      void this.enqueue(() => rstStreamFrame(id, RstStatus.PROTOCOL_ERROR)).catch(() => undefined);
      return;
    }
    this.lastStreamId = id;
    if (this.goingAway || this.streams.size >= MAX_STREAMS) {
      void this.enqueue(() => rstStreamFrame(id, RstStatus.REFUSED_STREAM)).catch(() => undefined);
      return;
    }
    const s = new SpdyStream(id, headers, this, this.initialSendWindow);
    s.headerBytes = headerBytes;
    this.streams.set(id, s);
    // Reply first, so DATA we send on the stream always follows its SYN_REPLY.
    void this.enqueue(async () => synReplyFrame(id, 0, await this.deflater.process(encodeHeaderBlock(new Map())))).catch(
      () => undefined,
    );
    if (flags & FLAG_UNIDIRECTIONAL) s.localClosed = true;
    this.emit('stream', s);
    if (flags & FLAG_FIN) this.remoteFin(s);
  }

  private onDataFrame(id: number, flags: number, data: Buffer): void {
    const s = this.streams.get(id);
    if (!s || s.remoteClosed) {
      void this.enqueue(() => rstStreamFrame(id, RstStatus.INVALID_STREAM)).catch(() => undefined);
      return;
    }
    if (data.length > 0) {
      if (!s.push(data)) this.hold(s.id);
      void this.enqueue(() => Buffer.concat([windowUpdateFrame(id, data.length), windowUpdateFrame(0, data.length)])).catch(
        () => undefined,
      );
    }
    if (flags & FLAG_FIN) this.remoteFin(s);
  }

  private hold(id: number): void {
    this.holds.add(id);
    this.socket.pause();
  }

  /** @internal */
  release(id: number): void {
    if (!this.holds.delete(id) || this.holds.size > 0 || this.closed) return;
    this.socket.resume();
  }

  private remoteFin(s: SpdyStream): void {
    if (s.remoteClosed) return;
    s.remoteClosed = true;
    s.push(null);
    this.maybeForget(s);
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) {
      s.remoteClosed = s.localClosed = true;
      if (!s.readableEnded) s.push(null);
      s.destroy();
    }
    this.streams.clear();
    for (const fn of this.sessionWaiters) fn();
    this.sessionWaiters = [];
    this.inflater.close();
    this.deflater.close();
    this.emit('close');
  }
}
