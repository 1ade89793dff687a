// A gRPC server for what nori serves: unary and server-streaming methods whose request is one
// message (grpc/grpc doc/PROTOCOL-HTTP2.md), on nori's own HTTP/2 connection (h2_connection.ts).
// It replaces grpc-js's Server, whose layers (interceptors, metadata objects, channelz, a read
// queue per call) cost more CPU per call than the CRI's polled reads themselves, and then
// node:http2, whose per-stream objects and separate writes cost more than the rest of the call.
//
// Per call: the request headers are checked (content-type application/grpc[+proto], POST, a
// known :path, grpc-encoding, grpc-timeout); DATA is collected until END_STREAM, bounded by the
// receive limit as soon as the length prefix is in; the one message (gzip/deflate when its
// compressed flag says so) goes to the method. The answer is HEADERS, the length-prefixed message
// as DATA, and trailers with grpc-status; an error before any message is a
// trailers-only response. A client's RST_STREAM (or a lost connection) before the answer aborts
// the call; so does its deadline, which also answers DEADLINE_EXCEEDED.

import type { Duplex } from 'node:stream';
import { gunzip, inflate, type InputType } from 'node:zlib';
import { SharedBudget } from './h2_budget';
import { H2Connection, keepEncoded, type Headers } from './h2_connection';
import { H2Error, goaway, settingsFrame } from './h2_frames';
import type { H2ServerStream } from './h2_stream';
import { Status, StatusError, encodeGrpcMessage } from './status';

export type AbortReason = 'cancelled' | 'deadline';

/** What a method implementation sees of its call. */
export interface ServerCall {
  /** Epoch milliseconds of the client's deadline (grpc-timeout), if it sent one. */
  readonly deadline: number | undefined;
  /** Set once the call was aborted before its answer. */
  readonly aborted: AbortReason | undefined;
  /** Called once if the call is aborted before its answer: the client cancelled, or the deadline passed. */
  onAbort: ((why: AbortReason) => void) | undefined;
}

export interface UnaryMethod {
  responseStream: false;
  /**
   * The encoded answer, or a promise of it that rejects with a StatusError (anything else
   * answers INTERNAL). An answer given at once goes out in the turn that read the request.
   */
  run(request: Buffer, call: ServerCall): Promise<Uint8Array> | Uint8Array;
}

export interface StreamMethod {
  responseStream: true;
  /** `send` resolves when the message may be followed by the next (the stream is not full). */
  run(request: Buffer, call: ServerCall, send: (message: Uint8Array) => Promise<void>): Promise<void>;
}

export type Method = UnaryMethod | StreamMethod;

export interface GrpcServerOptions {
  /** Largest request message accepted, in bytes (after decompression). */
  maxReceiveMessageBytes: number;
  /** Largest answer message sent, in bytes; a bigger one answers RESOURCE_EXHAUSTED. */
  maxSendMessageBytes: number;
  /** Request bytes a connection's calls in progress may hold together (h2_connection.ts's default when unset). */
  maxHeldRequestBytes?: number;
  /** Calls in progress and held request bytes on all connections together (h2_budget.ts's defaults when unset). */
  maxServerCalls?: number;
  maxServerHeldBytes?: number;
  /** What each connection keeps of those when the server-wide budget is spent (h2_budget.ts's defaults when unset). */
  callsKeptPerConnection?: number;
  heldBytesKeptPerConnection?: number;
  /**
   * Open connections. Past it, the connection idle longest (no call in progress) is closed to
   * make room; when every connection has calls in progress, the new one is told GOAWAY
   * (ENHANCE_YOUR_CALM) and closed.
   */
  maxConnections?: number;
  /** A request not ended this long after its HEADERS is answered DEADLINE_EXCEEDED (REQUEST_STALL_MS when unset). */
  requestStallMs?: number;
}

/** kubelet holds one or two connections and each crictl run one; a thousand is far past any real node. */
export const MAX_CONNECTIONS = 1024;

/**
 * CRI has no client-streaming method: kubelet and crictl send each request whole at once. One
 * still unfinished after this long is a client holding a call slot and its bytes (slowloris).
 */
export const REQUEST_STALL_MS = 10_000;

/** What a client past maxConnections reads before the socket closes. */
const TOO_MANY_CONNECTIONS = Buffer.concat([settingsFrame([]), goaway(0, H2Error.ENHANCE_YOUR_CALM, 'too many connections')]);

const RESPONSE_HEADERS = keepEncoded({ ':status': '200', 'content-type': 'application/grpc' });
const OK_TRAILERS = keepEncoded({ 'grpc-status': '0' });
const ENCODINGS = 'identity,deflate,gzip';
/** setTimeout's limit; a later deadline gets no timer (it is as good as none). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** grpc-timeout (1-8 digits and a unit) in milliseconds; undefined when malformed. */
export function parseTimeout(value: string): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

/** application/grpc, application/grpc+proto, either with parameters: 'ok'; other subtypes of application/grpc: 'subtype'. */
function contentType(value: string | undefined): 'ok' | 'subtype' | 'other' {
  if (value === 'application/grpc' || value === 'application/grpc+proto') return 'ok';
  if (value === undefined || !value.startsWith('application/grpc')) return 'other';
  const rest = value.slice('application/grpc'.length).toLowerCase();
  if (rest.startsWith(';') || /^\+proto\s*(;|$)/.test(rest)) return 'ok';
  return rest.startsWith('+') ? 'subtype' : 'other';
}

/** Answers a stream that never became a call: a trailers-only response (or a plain HTTP status). */
function refuse(stream: H2ServerStream, code: Status, details: string, extra?: Headers): void {
  stream.end({ ':status': '200', 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details), ...extra });
  stream.release();
}

export class GrpcServer {
  private readonly methods = new Map<string, Method>();
  private readonly connections = new Set<H2Connection>();
  private readonly budget: SharedBudget;
  private closing = false;
  private stallSweep: NodeJS.Timeout | undefined;

  constructor(private readonly options: GrpcServerOptions) {
    this.budget = new SharedBudget({
      maxCalls: options.maxServerCalls,
      maxHeld: options.maxServerHeldBytes,
      callsKept: options.callsKeptPerConnection,
      heldKept: options.heldBytesKeptPerConnection,
    });
  }

  /** Serves `methods`, keyed by path (`/runtime.v1.RuntimeService/Version`). */
  addMethods(methods: Record<string, Method>): void {
    for (const [path, m] of Object.entries(methods)) {
      if (this.methods.has(path)) throw new Error(`${path} is served twice`);
      this.methods.set(path, m);
    }
  }

  /** Serves HTTP/2 on `connection` (an accepted socket); false when it was refused (shutting down, too many open). */
  handleConnection(connection: Duplex): boolean {
    if (this.closing) {
      connection.destroy();
      return false;
    }
    if (this.connections.size >= (this.options.maxConnections ?? MAX_CONNECTIONS) && !this.shedIdlest()) {
      connection.on('error', () => connection.destroy());
      connection.end(TOO_MANY_CONNECTIONS);
      // a client that does not read does not keep the socket
      setTimeout(() => connection.destroy(), 1000).unref();
      return false;
    }
    const c = new H2Connection(connection, (stream, headers) => this.onStream(stream, headers), this.options.maxHeldRequestBytes, this.budget);
    this.connections.add(c);
    connection.once('close', () => this.connections.delete(c));
    this.stallSweep ??= this.sweepStalledRequests();
    return true;
  }

  /**
   * Makes room for one more connection by closing the one that has had no call in progress the
   * longest; false when every connection has calls in progress. A client that holds many idle
   * connections thus cannot lock kubelet out, and a stalled one's calls end at the stall sweep.
   */
  private shedIdlest(): boolean {
    let idlest: H2Connection | undefined;
    let since = Infinity;
    for (const c of this.connections) {
      const t = c.idleSince();
      if (t !== undefined && t < since) {
        since = t;
        idlest = c;
      }
    }
    if (!idlest) return false;
    this.connections.delete(idlest);
    idlest.shed('too many connections: the one idle longest is closed');
    return true;
  }

  /** Every so often, answers the requests left unfinished past the stall time. */
  private sweepStalledRequests(): NodeJS.Timeout {
    const stallMs = this.options.requestStallMs ?? REQUEST_STALL_MS;
    const sweep = () => {
      const cutoff = performance.now() - stallMs;
      for (const c of this.connections) c.expireStalled(cutoff);
    };
    return setInterval(sweep, Math.min(1000, stallMs / 2)).unref();
  }

  /**
   * Sends GOAWAY on every connection and waits for their calls to end; after graceMs cuts what
   * is left (those calls are aborted as cancelled).
   */
  shutdown(graceMs: number): Promise<'graceful' | 'forced'> {
    this.closing = true;
    clearInterval(this.stallSweep);
    const open = [...this.connections];
    if (!open.length) return Promise.resolve('graceful');
    return new Promise((resolve) => {
      let left = open.length;
      let cut = false;
      const timer = setTimeout(() => {
        cut = true;
        for (const c of open) c.destroy();
        resolve('forced');
      }, graceMs);
      for (const c of open) {
        c.close(() => {
          if (!cut && --left === 0) {
            clearTimeout(timer);
            resolve('graceful');
          }
        });
      }
    });
  }

  forceShutdown(): void {
    this.closing = true;
    clearInterval(this.stallSweep);
    for (const c of this.connections) c.destroy();
  }

  private onStream(stream: H2ServerStream, headers: Headers): void {
    const ct = contentType(headers['content-type']);
    if (ct === 'other') {
      stream.end({ ':status': '415' });
      return stream.release();
    }
    if (headers[':method'] !== 'POST') {
      stream.end({ ':status': '405' });
      return stream.release();
    }
    if (ct === 'subtype') return refuse(stream, Status.UNIMPLEMENTED, `content-type ${headers['content-type']} is not served: only application/grpc+proto`);
    const path = headers[':path'] ?? '';
    const method = this.methods.get(path);
    if (!method) return refuse(stream, Status.UNIMPLEMENTED, `unknown method ${path}`);
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      return refuse(stream, Status.UNIMPLEMENTED, `grpc-encoding ${encoding} is not supported`, { 'grpc-accept-encoding': ENCODINGS });
    }
    let timeoutMs: number | undefined;
    const timeout = headers['grpc-timeout'];
    if (timeout !== undefined) {
      timeoutMs = parseTimeout(timeout);
      if (timeoutMs === undefined) return refuse(stream, Status.INTERNAL, `invalid grpc-timeout ${timeout}`);
    }
    new Call(stream, method, this.options, encoding, timeoutMs);
  }
}

const READING = 0;
const RUNNING = 1;
const DONE = 2;

class Call implements ServerCall {
  deadline: number | undefined;
  aborted: AbortReason | undefined;
  onAbort: ((why: AbortReason) => void) | undefined;
  private state = READING;
  private chunks: Buffer[] = [];
  private received = 0;
  /** Length of the request message from its prefix, -1 until 5 bytes are in. */
  private declared = -1;
  private timer: NodeJS.Timeout | undefined;
  private drained: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly stream: H2ServerStream,
    private readonly method: Method,
    private readonly limits: GrpcServerOptions,
    private readonly encoding: string | undefined,
    timeoutMs: number | undefined,
  ) {
    stream.onData = (chunk) => this.onData(chunk);
    stream.onEnd = () => this.onEnd();
    stream.onClose = () => this.onClose();
    stream.onStall = () => this.answer(Status.DEADLINE_EXCEEDED, `the request was not sent whole within ${limits.requestStallMs ?? REQUEST_STALL_MS} ms`);
    if (timeoutMs !== undefined) {
      this.deadline = Date.now() + timeoutMs;
      if (timeoutMs <= MAX_TIMER_MS) this.timer = setTimeout(() => this.expire(), timeoutMs);
    }
  }

  private onData(chunk: Buffer): void {
    if (this.state !== READING) return; // an answered call drops what still comes
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.declared < 0 && this.received >= 5) {
      const head = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
      this.declared = head.readUInt32BE(1);
      if (this.declared > this.limits.maxReceiveMessageBytes) {
        return this.answer(Status.RESOURCE_EXHAUSTED, `request message larger than max (${this.declared} vs. ${this.limits.maxReceiveMessageBytes})`);
      }
    }
    if (this.declared >= 0 && this.received > 5 + this.declared) {
      return this.answer(Status.INTERNAL, 'more than one request message for a method that takes one');
    }
  }

  private onEnd(): void {
    if (this.state !== READING) return;
    if (this.received === 0) return this.answer(Status.INTERNAL, 'the request carried no message');
    if (this.declared < 0 || this.received < 5 + this.declared) {
      return this.answer(Status.INTERNAL, `request message truncated: ${Math.max(0, this.received - 5)} of ${Math.max(0, this.declared)} bytes`);
    }
    const frame = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    this.state = RUNNING;
    const message = frame.subarray(5);
    const flag = frame[0];
    if (flag === 0) return this.run(message);
    if (flag !== 1) return this.answer(Status.INTERNAL, `invalid compressed flag ${flag}`);
    if (this.encoding !== 'gzip' && this.encoding !== 'deflate') {
      return this.answer(Status.INTERNAL, 'compressed request message without a grpc-encoding');
    }
    const unpack = this.encoding === 'gzip' ? gunzip : inflate;
    unpack(message as InputType, { maxOutputLength: Math.max(1, this.limits.maxReceiveMessageBytes) }, (err, out) => {
      if (this.state !== RUNNING) return this.stream.release();
      if (!err) return this.run(out);
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        this.answer(Status.RESOURCE_EXHAUSTED, `request message decompresses to more than ${this.limits.maxReceiveMessageBytes} bytes`);
      } else this.answer(Status.INTERNAL, `could not decompress the request message (${this.encoding}): ${err.message}`);
      this.stream.release();
    });
  }

  private run(message: Buffer): void {
    let done: Promise<unknown>;
    try {
      if (this.method.responseStream) {
        done = this.method.run(message, this, (m) => this.send(m)).then(() => this.answer(Status.OK, ''));
      } else {
        const answer = this.method.run(message, this);
        if (!(answer instanceof Promise)) {
          this.reply(answer);
          this.stream.release();
          return;
        }
        done = answer.then((a) => this.reply(a));
      }
    } catch (e) {
      done = Promise.reject(e);
    }
    done
      .catch((e: unknown) => {
        if (e instanceof StatusError) this.answer(e.code, e.details);
        else this.answer(Status.INTERNAL, e instanceof Error ? e.message : String(e));
      })
      // the stream counts against the connection's call limit until its method has settled
      .finally(() => this.stream.release());
  }

  private frame(message: Uint8Array): Buffer | undefined {
    if (message.length > this.limits.maxSendMessageBytes) {
      this.answer(Status.RESOURCE_EXHAUSTED, `answer message larger than max (${message.length} vs. ${this.limits.maxSendMessageBytes})`);
      return undefined;
    }
    const out = Buffer.allocUnsafe(5 + message.length);
    out[0] = 0;
    out.writeUInt32BE(message.length, 1);
    out.set(message, 5);
    return out;
  }

  /** A unary answer: HEADERS, the message, trailers (one socket write when the windows allow). */
  private reply(message: Uint8Array): void {
    if (this.state !== RUNNING) return; // aborted meanwhile
    const framed = this.frame(message);
    if (!framed) return;
    this.finish();
    const stream = this.stream;
    stream.respond(RESPONSE_HEADERS);
    stream.write(framed);
    stream.end(OK_TRAILERS);
  }

  private send(message: Uint8Array): Promise<void> {
    if (this.state !== RUNNING) return Promise.reject(new StatusError(Status.CANCELLED, 'the call has ended'));
    const framed = this.frame(message);
    if (!framed) return Promise.reject(new StatusError(Status.RESOURCE_EXHAUSTED, 'answer message larger than max'));
    const stream = this.stream;
    stream.respond(RESPONSE_HEADERS);
    if (stream.write(framed)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.drained = { resolve, reject };
      stream.onDrain = () => {
        stream.onDrain = undefined;
        this.drained = undefined;
        resolve();
      };
    });
  }

  /** Ends the call with `code`: trailers after the messages sent, else a trailers-only response. */
  private answer(code: Status, details: string): void {
    if (this.state === DONE) return;
    const ran = this.state === RUNNING;
    this.finish();
    const stream = this.stream;
    if (!stream.headersAreSent) {
      const headers: Headers = { ...RESPONSE_HEADERS, 'grpc-status': String(code) };
      if (details) headers['grpc-message'] = encodeGrpcMessage(details);
      stream.end(headers);
    } else {
      stream.end(code === Status.OK ? OK_TRAILERS : { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) });
    }
    if (!ran) stream.release(); // no method runs (a refused request): nothing else will
  }

  private finish(): void {
    this.state = DONE;
    this.chunks = [];
    if (this.timer) clearTimeout(this.timer);
  }

  private expire(): void {
    if (this.state === DONE) return;
    this.abort('deadline');
    this.answer(Status.DEADLINE_EXCEEDED, 'deadline exceeded');
  }

  private onClose(): void {
    if (this.state === DONE) return;
    const ran = this.state === RUNNING;
    this.finish();
    this.abort('cancelled');
    if (!ran) this.stream.release();
  }

  private abort(why: AbortReason): void {
    if (this.aborted) return;
    this.aborted = why;
    const d = this.drained;
    this.drained = undefined;
    d?.reject(new StatusError(why === 'deadline' ? Status.DEADLINE_EXCEEDED : Status.CANCELLED, `the call was ${why === 'deadline' ? 'past its deadline' : 'cancelled'}`));
    this.onAbort?.(why);
  }
}
