// The server end of a WebSocket (RFC 6455) over an upgraded socket: reassembles fragmented
// messages, answers pings, runs the closing handshake. Messages arrive as 'message' events.

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { FrameTooLargeError, MAX_FRAME_PAYLOAD, Opcode, closePayload, encodeFrame, parseFrame } from './frames';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const CLOSE_TIMEOUT_MS = 2000;

export function acceptKey(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

export class WsConnection extends EventEmitter {
  private buf: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentOpcode = 0;
  private fragmentBytes = 0;
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
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    try {
      for (;;) {
        if (this.closed) return;
        const r = parseFrame(this.buf);
        if (!r) return;
        this.buf = r.rest;
        this.onFrame(r.frame.fin, r.frame.rsv, r.frame.opcode, r.frame.masked, r.frame.payload);
      }
    } catch (e) {
      this.fail(e instanceof FrameTooLargeError ? 1009 : 1002, e instanceof Error ? e.message : 'protocol error');
    }
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
      if (this.fragments.length === 0) throw new Error('continuation without a start');
    } else if (opcode === Opcode.TEXT || opcode === Opcode.BINARY) {
      if (this.fragments.length > 0) throw new Error('new message inside a fragmented one');
      this.fragmentOpcode = opcode;
      this.fragmentBytes = 0;
    } else {
      throw new Error(`unknown opcode ${opcode}`);
    }
    this.fragments.push(payload);
    this.fragmentBytes += payload.length;
    if (this.fragmentBytes > MAX_FRAME_PAYLOAD) throw new FrameTooLargeError('message too large');
    if (!fin) return;
    const msg = this.fragments.length === 1 ? this.fragments[0] : Buffer.concat(this.fragments);
    this.fragments = [];
    this.emit('message', msg, this.fragmentOpcode === Opcode.BINARY);
  }

  private fail(code: number, reason: string): void {
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
