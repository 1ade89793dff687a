// Kubernetes channel framing over WebSocket messages: the first byte names the channel (in the
// base64 protocols an ASCII digit, then base64 data). v5 adds channel 255: [255, n] closes
// channel n from the client side (stdin half-close).

import { Readable, Writable } from 'node:stream';
import type { WsProtocol } from '../protocols';
import { WS_CHANNEL } from '../protocols';
import type { WsConnection } from './connection';

/** What a channel's reader may fall behind before the connection stops reading from the
 *  client (kubelet's streams get the same from TCP): a client cannot fill the daemon's memory
 *  with stdin a process never reads. */
const CHANNEL_BUFFER = 1 << 20;

export class WsChannels {
  private readonly readables = new Map<number, Readable>();

  constructor(
    private readonly ws: WsConnection,
    private readonly proto: WsProtocol,
  ) {
    ws.on('message', (msg: Buffer, binary: boolean) => this.onMessage(msg, binary));
    ws.on('close', () => {
      for (const r of this.readables.values()) if (!r.readableEnded) r.push(null);
    });
  }

  /** Data the client sends on channel ch. Channels never asked for are discarded. */
  readable(ch: number): Readable {
    let r = this.readables.get(ch);
    if (!r) {
      const hold = `channel ${ch}`;
      r = new Readable({ highWaterMark: CHANNEL_BUFFER, read: () => this.ws.release(hold) });
      this.readables.set(ch, r);
    }
    return r;
  }

  /** A stream whose writes become messages on channel ch (empty writes send nothing). */
  writable(ch: number): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (chunk.length === 0) return cb();
        this.send(ch, chunk).then(() => cb(), cb);
      },
    });
  }

  /** One message on ch, even an empty one (the "connection established" signal). */
  send(ch: number, data: Buffer): Promise<void> {
    if (this.proto.binary) return this.ws.send(Buffer.concat([Buffer.from([ch]), data]), true);
    return this.ws.send(Buffer.from(String.fromCharCode(48 + ch) + data.toString('base64')), false);
  }

  private onMessage(msg: Buffer, binary: boolean): void {
    if (msg.length === 0) return;
    let ch: number;
    let data: Buffer;
    if (this.proto.binary || binary) {
      ch = msg[0];
      data = msg.subarray(1);
    } else {
      ch = msg[0] - 48;
      data = Buffer.from(msg.subarray(1).toString(), 'base64');
    }
    if (ch === WS_CHANNEL.close && this.proto.closeSignal) {
      if (data.length > 0) {
        const r = this.readables.get(data[0]);
        if (r && !r.readableEnded) r.push(null);
      }
      return;
    }
    const r = this.readables.get(ch);
    if (r && !r.readableEnded && data.length > 0 && !r.push(data)) this.ws.hold(`channel ${ch}`);
  }
}
