// An HTTP/2 client that writes frames exactly as the test orders them, to play clients whose first
// flight Node's own http2 client never sends: one that waits between its preface and its first
// request (Go gRPC), one that ACKs the server's SETTINGS late, pings first, or sends garbage.
// Frames and HPACK literals are built by hand from RFC 9113 and RFC 7541.

import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { GrpcServer, type GrpcServerOptions, type Method } from '../../src/grpc/h2_server';
import { frame } from './h2_frame';
import { protoRoot } from './raw-grpc';

export { frame };

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const T = { DATA: 0x0, HEADERS: 0x1, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8 } as const;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

export const SETTINGS = frame(T.SETTINGS, 0, 0);
export const SETTINGS_ACK = frame(T.SETTINGS, 0x1, 0);
export const PING = frame(T.PING, 0, 0, Buffer.from('nori-png'));

const raw = (s: string) => {
  if (s.length > 126) throw new Error('raw-h2: long literals are not needed here');
  return Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);
};

/** HEADERS (END_HEADERS) + DATA (END_STREAM) of a unary call with an empty request message. */
export function unaryCall(stream: number, path: string, authority: string): Buffer {
  const block = Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static 3 and 6)
    Buffer.from([0x04]), raw(path), // :path, literal without indexing (name: static 4)
    Buffer.from([0x41]), raw(authority), // :authority, literal with incremental indexing (name: static 1)
    Buffer.from([0x0f, 31 - 15]), raw('application/grpc'), // content-type (static 31)
    Buffer.from([0x00]), raw('te'), raw('trailers'),
  ]);
  return Buffer.concat([frame(T.HEADERS, 0x4, stream, block), frame(T.DATA, 0x1, stream, Buffer.alloc(5))]);
}

export class RawH2 {
  readonly frames: Frame[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  /** ACK every SETTINGS of the server as it arrives, as a client would; off to ACK by hand. */
  autoAck = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 9 && this.buf.length >= 9 + this.buf.readUIntBE(0, 3)) {
        const len = this.buf.readUIntBE(0, 3);
        const f = { type: this.buf[3]!, flags: this.buf[4]!, stream: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) };
        this.frames.push(f);
        if (this.autoAck && f.type === T.SETTINGS && !(f.flags & 0x1)) socket.write(SETTINGS_ACK);
        this.buf = this.buf.subarray(9 + len);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(path: string): Promise<RawH2> {
    return new Promise((resolve, reject) => {
      const s = connect(path, () => resolve(new RawH2(s)));
      s.once('error', reject);
    });
  }

  write(...parts: Buffer[]): void {
    this.socket.write(Buffer.concat(parts));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the index of the first frame at or after `from` that matches; rejects if the connection closes first. */
  async waitFor(pred: (f: Frame) => boolean, from = 0, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f, k) => k >= from && pred(f));
      if (i >= 0) return i;
      if (this.closed) throw new Error(`raw-h2: connection closed; frames seen: ${this.describe()}`);
      if (Date.now() > deadline) throw new Error(`raw-h2: no such frame within ${timeoutMs} ms; frames seen: ${this.describe()}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Waits for the trailers of `stream` and decodes its one response message as a VersionResponse. */
  async versionAnswer(stream: number): Promise<Record<string, unknown>> {
    await this.waitFor((f) => f.type === T.HEADERS && f.stream === stream && (f.flags & 0x1) !== 0);
    const data = Buffer.concat(this.frames.filter((f) => f.type === T.DATA && f.stream === stream).map((f) => f.payload));
    if (data.length < 5) throw new Error(`raw-h2: stream ${stream} ended without a message`);
    const type = protoRoot().lookupType('runtime.v1.VersionResponse');
    return type.toObject(type.decode(data.subarray(5, 5 + data.readUInt32BE(1))));
  }

  /** Waits for the connection to close; returns whether it did. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    await this.waitFor(() => false, 0, timeoutMs).catch(() => undefined);
    return this.closed;
  }

  describe(): string {
    return this.frames.map((f) => `${f.type}/${f.flags}/${f.stream}`).join(' ');
  }

  close(): void {
    this.socket.destroy();
  }
}

// For the hostile-peer tests (test/unit/core/h2_peer*.test.ts): every frame type, error code and
// flag of RFC 9113 sections 6 and 7, SETTINGS payloads, HPACK (RFC 7541) blocks of any size, and a
// decoder for what the server answers (static and dynamic table, Huffman).

export const FT = { DATA: 0x0, HEADERS: 0x1, PRIORITY: 0x2, RST_STREAM: 0x3, SETTINGS: 0x4, PUSH_PROMISE: 0x5, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;
export const H2_ERROR = {
  NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, FLOW_CONTROL_ERROR: 0x3, SETTINGS_TIMEOUT: 0x4, STREAM_CLOSED: 0x5, FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7, CANCEL: 0x8, COMPRESSION_ERROR: 0x9, CONNECT_ERROR: 0xa, ENHANCE_YOUR_CALM: 0xb, INADEQUATE_SECURITY: 0xc, HTTP_1_1_REQUIRED: 0xd,
} as const;
export const errorName = (code: number | undefined): string =>
  code === undefined ? 'none' : (Object.entries(H2_ERROR).find(([, v]) => v === code)?.[0] ?? `0x${code.toString(16)}`);

/** A SETTINGS payload (RFC 9113 6.5.1) of [identifier, value] pairs. */
export function settingsPayload(...pairs: [number, number][]): Buffer {
  const b = Buffer.alloc(6 * pairs.length);
  pairs.forEach(([id, v], i) => (b.writeUInt16BE(id, 6 * i), b.writeUInt32BE(v, 6 * i + 2)));
  return b;
}

export function parseSettings(payload: Buffer): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i + 6 <= payload.length; i += 6) m.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
  return m;
}

/** An HPACK integer (RFC 7541 5.1) with a `bits`-bit prefix; `high` holds the bits above the prefix. */
export function hpackInt(n: number, bits: number, high = 0): Buffer {
  const max = (1 << bits) - 1;
  if (n < max) return Buffer.from([high | n]);
  const out = [high | max];
  for (n -= max; n >= 128; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return Buffer.from(out);
}

/** A string literal without Huffman coding (RFC 7541 5.2). */
export const hpackString = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  return Buffer.concat([hpackInt(b.length, 7), b]);
};

/** A literal field without indexing, with a literal name (RFC 7541 6.2.2). */
export const hpackLiteral = (name: string, value: string | Buffer): Buffer => Buffer.concat([Buffer.from([0]), hpackString(name), hpackString(value)]);

/** The header block of a gRPC request (grpc doc/PROTOCOL-HTTP2.md), then `extra` fields. */
export function grpcRequestBlock(path: string, authority = 'localhost', ...extra: Buffer[]): Buffer {
  return Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static 3 and 6)
    hpackInt(4, 4), hpackString(path), // :path (name: static 4)
    hpackInt(1, 4), hpackString(authority), // :authority (name: static 1)
    hpackInt(31, 4), hpackString('application/grpc'), // content-type (name: static 31)
    hpackLiteral('te', 'trailers'),
    ...extra,
  ]);
}

/** A length-prefixed, uncompressed gRPC message. */
export function grpcMessage(msg: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

const STATIC_NAMES = (
  ':authority :method :method :path :path :scheme :scheme :status :status :status :status :status :status :status accept-charset accept-encoding ' +
  'accept-language accept-ranges accept access-control-allow-origin age allow authorization cache-control content-disposition content-encoding ' +
  'content-language content-length content-location content-range content-type cookie date etag expect expires from host if-match ' +
  'if-modified-since if-none-match if-range if-unmodified-since last-modified link location max-forwards proxy-authenticate ' +
  'proxy-authorization range referer refresh retry-after server set-cookie strict-transport-security transfer-encoding user-agent vary via www-authenticate'
).split(' ');
const STATIC_VALUES = ['', 'GET', 'POST', '/', '/index.html', 'http', 'https', '200', '204', '206', '304', '400', '404', '500', '', 'gzip, deflate'];
// RFC 7541 Appendix B is a canonical Huffman code: each symbol's code length (5 + the letter's
// offset from 'a', EOS last) gives every code.
const HUFFMAN_LENGTHS =
  'isxxxxxxxtzxxzxxxxxxxxzxxxxxxxxxbffhibdgffdgdbbbaaabbbbbbbcdkbhfibccccccccccccccccccccccdcdioijbkabababbbaccbbbabcbaabccccckgji' +
  'xprpprrrsrssssststtrstssssqrsrsstrqprrssqsrrtqrssqqrqsrssprrrsrrsvvporsruvvvwwvtuoqvwwvwtqqvvxwwwptpqrqqsrruuttvsvwvvwwwwwxwwwwwvz';
let huffman: Map<number, number> | undefined; // (length << 32) + code -> symbol

function huffmanDecode(b: Buffer): string {
  if (!huffman) {
    huffman = new Map();
    const bySize = [...HUFFMAN_LENGTHS].map((ch, sym) => [ch.charCodeAt(0) - 92, sym] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    let code = 0;
    let len = bySize[0]![0];
    for (const [l, sym] of bySize) {
      code *= 2 ** (l - len);
      len = l;
      huffman.set(l * 2 ** 32 + code++, sym);
    }
  }
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (const byte of b) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      const sym = huffman.get(++len * 2 ** 32 + code);
      if (sym === 256) throw new Error('hpack: EOS in a string');
      if (sym !== undefined) {
        out.push(sym);
        code = len = 0;
      }
    }
  }
  if (len > 7 || code !== 2 ** len - 1) throw new Error('hpack: bad Huffman padding');
  return Buffer.from(out).toString('latin1');
}

/** Decodes the header blocks of one direction of a connection, in order (RFC 7541). */
export class HpackDecoder {
  private table: [string, string][] = [];
  private size = 0;
  private max = 4096;

  decode(b: Buffer): [string, string][] {
    let p = 0;
    const int = (bits: number): number => {
      const max = (1 << bits) - 1;
      let v = b[p++]! & max;
      if (v < max) return v;
      for (let m = 1; ; m *= 128) {
        if (p >= b.length) throw new Error('hpack: integer cut short');
        const c = b[p++]!;
        v += (c & 0x7f) * m;
        if (!(c & 0x80)) return v;
      }
    };
    const str = (): string => {
      const huff = b[p]! & 0x80;
      const n = int(7);
      const s = b.subarray(p, (p += n));
      return huff ? huffmanDecode(s) : s.toString('latin1');
    };
    const entry = (i: number): [string, string] => {
      const e: [string, string] | undefined = i >= 1 && i <= 61 ? [STATIC_NAMES[i - 1]!, STATIC_VALUES[i - 1] ?? ''] : this.table[i - 62];
      if (!e) throw new Error(`hpack: no entry ${i}`);
      return e;
    };
    const out: [string, string][] = [];
    while (p < b.length) {
      const c = b[p]!;
      if (c & 0x80) out.push(entry(int(7)));
      else if ((c & 0xe0) === 0x20) {
        this.max = int(5);
        this.evict();
      } else {
        const indexed = c & 0x40;
        const i = int(indexed ? 6 : 4);
        const field: [string, string] = [i ? entry(i)[0] : str(), str()];
        out.push(field);
        if (indexed) {
          this.table.unshift(field);
          this.size += field[0].length + field[1].length + 32;
          this.evict();
        }
      }
    }
    return out;
  }

  private evict(): void {
    while (this.size > this.max && this.table.length) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }
}

/** The fields of every header block in `frames` (one direction, in order), keyed by the index of its HEADERS frame. */
export function headerBlocks(frames: Frame[]): Map<number, [string, string][]> {
  const dec = new HpackDecoder();
  const out = new Map<number, [string, string][]>();
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    if (f.type !== FT.HEADERS) continue;
    let p = f.payload;
    const pad = f.flags & FLAG.PADDED ? p[0]! : 0;
    if (f.flags & FLAG.PADDED) p = p.subarray(1, p.length - pad);
    if (f.flags & FLAG.PRIORITY) p = p.subarray(5);
    const parts = [p];
    for (let k = i + 1, done = (f.flags & FLAG.END_HEADERS) !== 0; !done && k < frames.length && frames[k]!.type === FT.CONTINUATION; k++) {
      parts.push(frames[k]!.payload);
      done = (frames[k]!.flags & FLAG.END_HEADERS) !== 0;
    }
    out.set(i, dec.decode(Buffer.concat(parts)));
  }
  return out;
}

/**
 * A GrpcServer serving `methods` on a unix socket in a fresh directory, for raw-frame tests;
 * `open` gives a connection past its preface (the client's SETTINGS `settings` sent, the server's
 * ACKed), closed again by `closeConnections` or `stop`.
 */
export class PeerFixture {
  sock = '';
  server!: GrpcServer;
  private dir = '';
  private listener!: NetServer;
  private readonly conns: RawH2[] = [];

  constructor(
    private readonly methods: Record<string, Method>,
    private readonly options: Partial<GrpcServerOptions> = {},
  ) {}

  async start(): Promise<void> {
    this.dir = mkdtempSync('/tmp/nori-h2peer-');
    this.sock = join(this.dir, 's.sock');
    this.server = new GrpcServer({ maxReceiveMessageBytes: 1 << 20, maxSendMessageBytes: 1 << 20, ...this.options });
    this.server.addMethods(this.methods);
    this.listener = createNetServer((s) => this.server.handleConnection(s));
    await new Promise<void>((r) => this.listener.listen(this.sock, r));
  }

  /** A connection that has sent nothing yet. */
  async raw(): Promise<RawH2> {
    const c = await RawH2.open(this.sock);
    this.conns.push(c);
    return c;
  }

  async open(settings: Buffer = Buffer.alloc(0)): Promise<RawH2> {
    const c = await this.raw();
    c.autoAck = true;
    c.write(PREFACE, frame(FT.SETTINGS, 0, 0, settings));
    return c;
  }

  closeConnections(): void {
    this.conns.splice(0).forEach((c) => c.close());
  }

  stop(): void {
    this.closeConnections();
    this.server.forceShutdown();
    this.listener.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
