// The server end of a WebSocket (RFC 6455) over an upgraded socket: reassembles fragmented
// messages, answers pings, runs the closing handshake. Messages arrive as 'message' events.
//
// Bounds: a frame or message above MAX_MESSAGE_PAYLOAD is refused (close 1009) as soon as a
// frame header announces it, before the payload arrives; incoming bytes queue as the chunks they
// came in and a message is reassembled into one buffer grown by doubling, so both cost time
// linear in their size; and reading pauses while the socket has more than MAX_PENDING_WRITE
// unsent (a peer that floods pings without reading the pongs cannot grow the send buffer).

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ByteQueue } from '../byte-queue';
import { FrameTooLargeError, MAX_MESSAGE_PAYLOAD, Opcode, closePayload, encodeFrame, framePayload, parseFrameHeader } from './frames';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const CLOSE_TIMEOUT_MS = 2000;
/** unsent bytes (pongs, echoes) above which the connection stops reading until they drain */
const MAX_PENDING_WRITE = 1 << 20;

export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export class WsConnection extends EventEmitter {
  private readonly inq = new ByteQueue();
  /** the message being reassembled: msg[0, msgLen) */
  private msg: Buffer | null = null;
  private msgLen = 0;
  private fragmentOpcode = 0;
  private readPaused = false;
  private readonly holds = new Set<string>();
  private inMessage = false;
  private failed = false;
  private closeSent = false;
  private closed = false;

  constructor(private readonly socket: Socket, head?: Buffer) {
    super();
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => this.teardown());
    socket.on('end', () => this.teardown());
    socket.on('error', () => this.teardown());
    if (head && head.length > 0) queueMicrotask(() => this.onData(head));
  }

  get isClosed(): boolean {
    return this.closed || this.closeSent;
  }

  /** Sends one message; resolves once the socket has taken it (backpressure). */
  send(data: Buffer, binary: boolean): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error('websocket closed'));
    return this.write(encodeFrame(binary ? Opcode.BINARY : Opcode.TEXT, data));
  }

  /** Starts the closing handshake; the socket ends when the peer answers or after a timeout. */
  close(code = 1000, reason = ''): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.closeSent) {
      this.closeSent = true;
      this.socket.write(encodeFrame(Opcode.CLOSE, closePayload(code, reason)));
    }
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, CLOSE_TIMEOUT_MS);
      t.unref();
      this.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  destroy(): void {
    this.socket.destroy();
    this.teardown();
  }

  private write(frame: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('websocket closed'));
      if (this.socket.write(frame)) return resolve();
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private onData(d: Buffer): void {
    if (this.closed || this.failed) return;
    this.inq.push(d);
    try {
      for (;;) {
        if (this.closed) return;
        const h = parseFrameHeader(this.inq.peek(Math.min(14, this.inq.length)));
        if (!h) break;
        if (h.opcode >= 8 && h.payloadLen > 125) throw new Error('bad control frame');
        // a data frame that would take its message past the bound is refused before it arrives
        if (h.opcode < 8 && h.opcode !== Opcode.CONT) this.checkMessage(0, h.payloadLen);
        else if (h.opcode === Opcode.CONT) this.checkMessage(this.msgLen, h.payloadLen);
        if (this.inq.length < h.headerLen + h.payloadLen) break;
        const frame = this.inq.take(h.headerLen + h.payloadLen);
        this.onFrame(h.fin, h.rsv, h.opcode, h.masked, framePayload(h, frame));
      }
    } catch (e) {
      this.fail(e instanceof FrameTooLargeError ? 1009 : 1002, e instanceof Error ? e.message : 'protocol error');
      return;
    }
    this.throttle();
  }

  private checkMessage(have: number, more: number): void {
    if (have + more > MAX_MESSAGE_PAYLOAD) throw new FrameTooLargeError(`message of more than ${MAX_MESSAGE_PAYLOAD} bytes`);
  }

  /** Stops reading while the peer leaves our answers unread. */
  private throttle(): void {
    if (this.readPaused || this.socket.writableLength <= MAX_PENDING_WRITE) return;
    this.readPaused = true;
    this.hold('unsent');
    this.socket.once('drain', () => {
      this.readPaused = false;
      this.release('unsent');
    });
  }

  /** Stops reading from the socket until every holder has released it (a consumer that is
   *  behind, or unsent answers): TCP then pushes back on the client. */
  hold(reason: string): void {
    this.holds.add(reason);
    this.socket.pause();
  }

  release(reason: string): void {
    if (!this.holds.delete(reason) || this.holds.size > 0 || this.closed) return;
    this.socket.resume();
  }

  private appendToMessage(payload: Buffer): void {
    const need = this.msgLen + payload.length;
    if (!this.msg || need > this.msg.length) {
      const grown = Buffer.allocUnsafe(Math.min(MAX_MESSAGE_PAYLOAD, Math.max(need, (this.msg?.length ?? 0) * 2, 4096)));
      if (this.msg) this.msg.copy(grown, 0, 0, this.msgLen);
      this.msg = grown;
    }
    payload.copy(this.msg, this.msgLen);
    this.msgLen = need;
  }

  private onFrame(fin: boolean, rsv: number, opcode: number, masked: boolean, payload: Buffer): void {
    if (!masked) throw new Error('client frames must be masked');
    if (rsv !== 0) throw new Error('no extension negotiated');
    if (opcode >= 8) {
      if (!fin || payload.length > 125) throw new Error('bad control frame');
      if (opcode === Opcode.PING) {
        if (!this.closeSent) this.socket.write(encodeFrame(Opcode.PONG, payload));
      } else if (opcode === Opcode.CLOSE) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1000;
        if (!this.closeSent) {
          this.closeSent = true;
          this.socket.write(encodeFrame(Opcode.CLOSE, closePayload(code === 1005 ? 1000 : code)));
        }
        this.socket.end();
        this.emit('peerClose', code);
      } else if (opcode !== Opcode.PONG) {
        throw new Error(`unknown control opcode ${opcode}`);
      }
      return;
    }
    if (opcode === Opcode.CONT) {
      if (!this.inMessage) throw new Error('continuation without a start');
    } else if (opcode === Opcode.TEXT || opcode === Opcode.BINARY) {
      if (this.inMessage) throw new Error('new message inside a fragmented one');
      this.fragmentOpcode = opcode;
      if (fin) {
        // the common case: a whole message in one frame, handed on without a copy
        this.emit('message', payload, opcode === Opcode.BINARY);
        return;
      }
      this.inMessage = true;
      this.msgLen = 0;
    } else {
      throw new Error(`unknown opcode ${opcode}`);
    }
    this.checkMessage(this.msgLen, payload.length);
    this.appendToMessage(payload);
    if (!fin) return;
    const msg = Buffer.from(this.msg!.subarray(0, this.msgLen));
    this.msg = null;
    this.msgLen = 0;
    this.inMessage = false;
    this.emit('message', msg, this.fragmentOpcode === Opcode.BINARY);
  }

  private fail(code: number, reason: string): void {
    // nothing more is read: what is queued and what is still to come are dropped
    this.failed = true;
    this.inq.clear();
    this.msg = null;
    this.socket.resume();
    if (!this.closeSent) {
      this.closeSent = true;
      this.socket.write(encodeFrame(Opcode.CLOSE, closePayload(code, reason)));
    }
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS).unref();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
}
