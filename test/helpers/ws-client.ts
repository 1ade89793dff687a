// A small RFC 6455 client for tests, written from the RFC and kubelet's channel conventions (not
// from nori's server code): masked frames, optional fragmentation, ping, close handshake, and
// the k8s channel byte (binary) or ASCII digit + base64 (base64.* protocols).

import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import { rawRequest, readBody } from './spdy-client';

export interface WsMessage {
  opcode: number;
  data: Buffer;
}

export class WsClient extends EventEmitter {
  readonly messages: WsMessage[] = [];
  readonly pongs: Buffer[] = [];
  closeCode?: number;
  closed = false;
  private buf = Buffer.alloc(0);

  private constructor(
    readonly socket: net.Socket,
    rest: Buffer,
    readonly protocol: string,
  ) {
    super();
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.once('close', () => {
      this.closed = true;
      this.emit('close');
    });
    if (rest.length) this.onData(rest);
  }

  static async connect(url: string, protocols: string[], extra: Array<[string, string]> = []): Promise<WsClient> {
    const key = randomBytes(16).toString('base64');
    const r = await rawRequest(url, 'GET', [
      ['Connection', 'Upgrade'],
      ['Upgrade', 'websocket'],
      ['Sec-WebSocket-Version', '13'],
      ['Sec-WebSocket-Key', key],
      ...(protocols.length ? ([['Sec-WebSocket-Protocol', protocols.join(', ')]] as Array<[string, string]>) : []),
      ...extra,
    ]);
    if (r.status !== 101) {
      const body = await readBody(r);
      throw Object.assign(new Error(`websocket upgrade failed: ${r.status} ${body}`), { status: r.status });
    }
    const expect = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    if ((r.headers['sec-websocket-accept'] ?? [])[0] !== expect) throw new Error('bad Sec-WebSocket-Accept');
    return new WsClient(r.socket, r.rest, (r.headers['sec-websocket-protocol'] ?? [''])[0]);
  }

  /** Sends one frame (masked, as a client must). */
  frame(opcode: number, payload: Buffer, fin = true): void {
    const mask = randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.alloc(2) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    if (len < 126) head[1] = 0x80 | len;
    else if (len < 65536) {
      head[1] = 0x80 | 126;
      head.writeUInt16BE(len, 2);
    } else {
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
    const body = Buffer.alloc(len);
    for (let i = 0; i < len; i++) body[i] = payload[i] ^ mask[i & 3];
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  /** Sends data on a k8s channel; binary protocols prefix the byte, base64 ones a digit. */
  sendChannel(ch: number, data: Buffer | string, opts: { fragments?: number } = {}): void {
    const d = Buffer.from(data);
    const base64 = this.protocol.includes('base64');
    const msg = base64 ? Buffer.from(String.fromCharCode(48 + ch) + d.toString('base64')) : Buffer.concat([Buffer.from([ch]), d]);
    const n = Math.max(1, opts.fragments ?? 1);
    const step = Math.ceil(msg.length / n);
    for (let i = 0; i < n; i++) {
      const piece = msg.subarray(i * step, (i + 1) * step);
      this.frame(i === 0 ? (base64 ? 1 : 2) : 0, piece, i === n - 1);
    }
  }

  ping(data: Buffer): void {
    this.frame(9, data);
  }

  close(code = 1000): void {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(code);
    this.frame(8, b);
  }

  /** Data per channel, decoded, in arrival order (including empty messages). */
  channel(ch: number): Buffer[] {
    const base64 = this.protocol.includes('base64');
    return this.messages
      .filter((m) => m.opcode === 1 || m.opcode === 2)
      .map((m) => (base64 ? { ch: m.data[0] - 48, d: Buffer.from(m.data.subarray(1).toString(), 'base64') } : { ch: m.data[0], d: m.data.subarray(1) }))
      .filter((x) => x.ch === ch)
      .map((x) => x.d);
  }

  text(ch: number): string {
    return Buffer.concat(this.channel(ch)).toString();
  }

  closedPromise(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.once('close', r));
  }

  waitFor(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting')), timeoutMs);
      const check = () => {
        if (pred()) {
          clearTimeout(t);
          this.off('message', check);
          this.off('close', check);
          resolve();
        }
      };
      this.on('message', check);
      this.on('close', check);
      check();
    });
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (this.buf[1] & 0x80) throw new Error('server frames must not be masked');
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const opcode = this.buf[0] & 0x0f;
      const data = Buffer.from(this.buf.subarray(off, off + len));
      this.buf = this.buf.subarray(off + len);
      if (opcode === 8) {
        this.closeCode = data.length >= 2 ? data.readUInt16BE(0) : 1005;
        this.close(this.closeCode);
        this.socket.end();
      } else if (opcode === 10) {
        this.pongs.push(data);
      }
      this.messages.push({ opcode, data });
      this.emit('message');
    }
  }
}
