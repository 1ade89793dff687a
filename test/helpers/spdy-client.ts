// A small SPDY/3.1 client for tests, written from the protocol description (draft-mbelshe-
// httpbis-spdy-00 and kubelet's remotecommand/portforward conventions), not from nori's server
// code: it only shares the dictionary constant, whose bytes a unit test pins by hash.

import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { EventEmitter } from 'node:events';
import { SPDY_DICTIONARY } from '../../src/streaming/spdy/dictionary';

export interface UpgradeResult {
  status: number;
  headers: Record<string, string[]>;
  socket: net.Socket;
  /** Bytes after the response head (the first frames, or the error body). */
  rest: Buffer;
}

/** Sends an HTTP/1.1 request on a raw socket and reads the response head. */
export function rawRequest(url: string, method: string, headers: Array<[string, string]>): Promise<UpgradeResult> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) });
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const hs: Record<string, string[]> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        const k = l.slice(0, i).trim().toLowerCase();
        (hs[k] ??= []).push(l.slice(i + 1).trim());
      }
      resolve({ status, headers: hs, socket, rest: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => {
      const head = [`${method} ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, ...headers.map(([k, v]) => `${k}: ${v}`)];
      socket.write(head.join('\r\n') + '\r\n\r\n');
    });
  });
}

/** Reads the rest of a non-101 response body until the server closes. */
export function readBody(r: UpgradeResult): Promise<string> {
  return new Promise((resolve) => {
    const parts = [r.rest];
    r.socket.on('data', (d: Buffer) => parts.push(d));
    r.socket.once('close', () => resolve(Buffer.concat(parts).toString()));
  });
}

class Zlib {
  private out: Buffer[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  constructor(private z: zlib.Deflate | zlib.Inflate) {
    z.on('data', (c: Buffer) => this.out.push(c));
  }
  run(input: Buffer): Promise<Buffer> {
    const p = this.chain.then(
      () =>
        new Promise<Buffer>((resolve) => {
          this.z.write(input);
          this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
            const r = Buffer.concat(this.out);
            this.out = [];
            resolve(r);
          });
        }),
    );
    this.chain = p;
    return p;
  }
  close() {
    this.z.close();
  }
}

function nvBlock(h: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const n = Buffer.alloc(4);
  n.writeUInt32BE(Object.keys(h).length);
  parts.push(n);
  for (const [k, v] of Object.entries(h)) {
    for (const s of [k.toLowerCase(), v]) {
      const b = Buffer.from(s);
      const l = Buffer.alloc(4);
      l.writeUInt32BE(b.length);
      parts.push(l, b);
    }
  }
  return Buffer.concat(parts);
}

function ctrl(type: number, flags: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8003, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(body.length, 4);
  h[4] = flags;
  return Buffer.concat([h, body]);
}

export class ClientStream extends EventEmitter {
  readonly chunks: Buffer[] = [];
  remoteFin = false;
  reset = false;
  /** Largest DATA frame payload the server sent on this stream. */
  maxFrame = 0;
  readonly replied: Promise<void>;
  private resolveReply!: () => void;
  constructor(
    readonly id: number,
    private readonly client: SpdyClient,
  ) {
    super();
    this.replied = new Promise((r) => (this.resolveReply = r));
  }
  /** @internal */ gotReply() {
    this.resolveReply();
  }
  write(data: Buffer | string, fin = false): void {
    this.client.sendData(this.id, Buffer.from(data), fin);
  }
  end(): void {
    this.client.sendData(this.id, Buffer.alloc(0), true);
  }
  text(): string {
    return Buffer.concat(this.chunks).toString();
  }
  /** Resolves with everything received once the server sends FIN (or resets, or the session ends). */
  finished(): Promise<Buffer> {
    if (this.remoteFin || this.reset) return Promise.resolve(Buffer.concat(this.chunks));
    return new Promise((resolve) => this.once('fin', () => resolve(Buffer.concat(this.chunks))));
  }
}

export interface SpdyClientOptions {
  /** When set, announce this initial window and grant it back only as data is received. */
  windowSize?: number;
}

export class SpdyClient extends EventEmitter {
  readonly streams = new Map<number, ClientStream>();
  private nextId = 1;
  private buf = Buffer.alloc(0);
  private deflate = new Zlib(zlib.createDeflate({ dictionary: SPDY_DICTIONARY }));
  private inflate = new Zlib(zlib.createInflate({ dictionary: SPDY_DICTIONARY }));
  private sendChain: Promise<unknown> = Promise.resolve();
  private readChain: Promise<unknown> = Promise.resolve();
  goAway = false;
  closed = false;
  readonly pings: number[] = [];
  readonly protocol: string;

  private constructor(
    readonly socket: net.Socket,
    rest: Buffer,
    protocol: string,
    private readonly opts: SpdyClientOptions,
  ) {
    super();
    this.protocol = protocol;
    socket.on('data', (d: Buffer) => this.onData(d));
    // Frames still being inflated come first: the close is handled at the end of the read chain.
    socket.once('close', () => (this.readChain = this.readChain.then(() => this.onClose())));
    if (opts.windowSize !== undefined) {
      const b = Buffer.alloc(12);
      b.writeUInt32BE(1, 0);
      b.writeUInt32BE(7, 4); // SETTINGS_INITIAL_WINDOW_SIZE
      b.writeUInt32BE(opts.windowSize, 8);
      this.raw(ctrl(4, 0, b));
    }
    if (rest.length) this.onData(rest);
  }

  /** Upgrades url to SPDY/3.1 offering protocols; rejects unless the server answers 101. */
  static async connect(url: string, protocols: string[], opts: SpdyClientOptions = {}): Promise<SpdyClient> {
    const r = await rawRequest(url, 'POST', [
      ['Connection', 'Upgrade'],
      ['Upgrade', 'SPDY/3.1'],
      ...protocols.map((p): [string, string] => ['X-Stream-Protocol-Version', p]),
      ['Content-Length', '0'],
    ]);
    if (r.status !== 101) {
      const body = await readBody(r);
      throw Object.assign(new Error(`upgrade failed: ${r.status} ${body}`), { status: r.status });
    }
    return new SpdyClient(r.socket, r.rest, (r.headers['x-stream-protocol-version'] ?? [''])[0], opts);
  }

  /** SYN_STREAM with these headers; resolves after the server's SYN_REPLY. */
  async open(headers: Record<string, string>): Promise<ClientStream> {
    const id = this.nextId;
    this.nextId += 2;
    const s = new ClientStream(id, this);
    this.streams.set(id, s);
    this.queue(async () => {
      const block = await this.deflate.run(nvBlock(headers));
      const fixed = Buffer.alloc(10);
      fixed.writeUInt32BE(id, 0);
      return ctrl(1, 0, Buffer.concat([fixed, block]));
    });
    await s.replied;
    return s;
  }

  ping(id: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id);
    this.raw(ctrl(6, 0, b));
  }

  sendData(id: number, data: Buffer, fin: boolean): void {
    const h = Buffer.alloc(8);
    h.writeUInt32BE(id, 0);
    h.writeUInt32BE(data.length, 4);
    h[4] = fin ? 1 : 0;
    this.raw(Buffer.concat([h, data]));
  }

  close(): void {
    this.socket.destroy();
  }

  /** Resolves when the server ends the TCP connection. */
  closedPromise(): Promise<void> {
    return this.closed ? Promise.resolve() : new Promise((r) => this.once('close', r));
  }

  private onClose(): void {
    this.closed = true;
    for (const s of this.streams.values()) {
      if (s.remoteFin) continue;
      s.remoteFin = true;
      s.emit('fin');
    }
    this.emit('close');
  }

  private raw(b: Buffer): void {
    this.queue(() => b);
  }

  private queue(make: () => Buffer | Promise<Buffer>): void {
    this.sendChain = this.sendChain.then(async () => {
      const b = await make();
      if (!this.socket.destroyed) this.socket.write(b);
    });
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4) & 0xffffff;
      if (this.buf.length < 8 + len) break;
      const frame = this.buf.subarray(0, 8 + len);
      this.buf = this.buf.subarray(8 + len);
      this.readChain = this.readChain.then(() => this.onFrame(frame));
    }
  }

  private async onFrame(f: Buffer): Promise<void> {
    const flags = f[4];
    const body = f.subarray(8);
    if ((f[0] & 0x80) === 0) {
      const s = this.streams.get(f.readUInt32BE(0) & 0x7fffffff);
      if (!s) return;
      if (body.length) {
        s.chunks.push(Buffer.from(body));
        s.maxFrame = Math.max(s.maxFrame, body.length);
        s.emit('data', body);
        if (this.opts.windowSize !== undefined) {
          for (const id of [s.id, 0]) {
            const b = Buffer.alloc(8);
            b.writeUInt32BE(id, 0);
            b.writeUInt32BE(body.length, 4);
            this.raw(ctrl(9, 0, b));
          }
        }
      }
      if (flags & 1 && !s.remoteFin) {
        s.remoteFin = true;
        s.emit('fin');
      }
      return;
    }
    const type = f.readUInt16BE(2);
    if (type === 2) {
      await this.inflate.run(body.subarray(4));
      this.streams.get(body.readUInt32BE(0) & 0x7fffffff)?.gotReply();
    } else if (type === 3) {
      const s = this.streams.get(body.readUInt32BE(0) & 0x7fffffff);
      if (s) {
        s.reset = true;
        s.gotReply();
        s.emit('fin');
      }
    } else if (type === 6) {
      this.pings.push(body.readUInt32BE(0));
      this.emit('ping', body.readUInt32BE(0));
    } else if (type === 7) {
      this.goAway = true;
      this.emit('goaway');
    } else if (type === 1 || type === 8) {
      await this.inflate.run(body.subarray(type === 1 ? 10 : 4));
    }
  }
}

/** Opens the remotecommand streams a kubectl-style client opens, error first as kubelet expects. */
export async function openRemotecommandStreams(
  c: SpdyClient,
  o: { stdin?: boolean; stdout?: boolean; stderr?: boolean; resize?: boolean },
): Promise<{ error: ClientStream; stdin?: ClientStream; stdout?: ClientStream; stderr?: ClientStream; resize?: ClientStream }> {
  const error = await c.open({ streamType: 'error' });
  const stdin = o.stdin ? await c.open({ streamType: 'stdin' }) : undefined;
  const stdout = o.stdout !== false ? await c.open({ streamType: 'stdout' }) : undefined;
  const stderr = o.stderr ? await c.open({ streamType: 'stderr' }) : undefined;
  const resize = o.resize ? await c.open({ streamType: 'resize' }) : undefined;
  return { error, stdin, stdout, stderr, resize };
}
