// A gRPC server written directly on node:http2, for what nori serves: unary and server-streaming
// methods whose request is one message (grpc/grpc doc/PROTOCOL-HTTP2.md). It replaces grpc-js's
// Server, whose layers (interceptors, metadata objects, channelz, a read queue per call) cost
// more CPU per call than the CRI's polled reads themselves.
//
// Per call: the request headers are checked (content-type application/grpc[+proto], POST, a
// known :path, grpc-encoding, grpc-timeout); DATA is collected until END_STREAM, bounded by the
// receive limit as soon as the length prefix is in; the one message (gzip/deflate when its
// compressed flag says so) goes to the method. The answer is HEADERS, one DATA frame holding the
// length-prefixed message, and trailers with grpc-status; an error before any message is a
// trailers-only response. A client's RST_STREAM (or a lost connection) before the answer aborts
// the call; so does its deadline, which also answers DEADLINE_EXCEEDED.

import * as http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { gunzip, inflate, type InputType } from 'node:zlib';
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
  /** Resolves with the encoded answer; rejects with a StatusError (anything else answers INTERNAL). */
  run(request: Buffer, call: ServerCall): Promise<Uint8Array>;
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
  /** node:http2 server options (SETTINGS, session limits). */
  http2?: http2.ServerOptions;
}

const NGHTTP2_NO_ERROR = http2.constants.NGHTTP2_NO_ERROR;
const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
// No date header (Node adds one unless told not to): gRPC clients never read it.
const WAIT_FOR_TRAILERS = { waitForTrailers: true, sendDate: false } as http2.ServerStreamResponseOptions;
const END_STREAM = { endStream: true, sendDate: false } as http2.ServerStreamResponseOptions;
const OK_TRAILERS = { 'grpc-status': '0' };
const ENCODINGS = 'identity,deflate,gzip';
/** setTimeout's limit; a later deadline gets no timer (it is as good as none). */
const MAX_TIMER_MS = 2 ** 31 - 1;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
const noop = () => undefined;

function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  if (!this.destroyed) this.sendTrailers(OK_TRAILERS);
}

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

/** Answers a stream that never became a call with a trailers-only response. */
function refuse(stream: http2.ServerHttp2Stream, code: Status, details: string, extra?: http2.OutgoingHttpHeaders): void {
  respondOnce(stream, { ...RESPONSE_HEADERS, 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details), ...extra });
}

/**
 * Sends `headers` and ends the stream. A client still sending is then told to stop, as grpc-go's
 * server does: RST_STREAM NO_ERROR, which Node sends once the headers are out; whatever arrives
 * before it is dropped.
 */
function respondOnce(stream: http2.ServerHttp2Stream, headers: http2.OutgoingHttpHeaders): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  try {
    stream.respond(headers, END_STREAM);
    if (!stream.readableEnded) {
      stream.resume();
      stream.close(NGHTTP2_NO_ERROR);
    }
  } catch {
    stream.destroy();
  }
}

export class GrpcServer {
  private readonly methods = new Map<string, Method>();
  private readonly h2: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private closing = false;

  constructor(private readonly options: GrpcServerOptions) {
    this.h2 = http2.createServer(options.http2 ?? {});
    this.h2.setTimeout(0);
    this.h2.on('stream', (stream, headers) => this.onStream(stream, headers));
    this.h2.on('session', (session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
    // A session error (a protocol error of the client, a reset socket) closes that connection;
    // there is nothing else to do, and without a listener Node would not throw either.
    this.h2.on('sessionError', noop);
  }

  /** Serves `methods`, keyed by path (`/runtime.v1.RuntimeService/Version`). */
  addMethods(methods: Record<string, Method>): void {
    for (const [path, m] of Object.entries(methods)) {
      if (this.methods.has(path)) throw new Error(`${path} is served twice`);
      this.methods.set(path, m);
    }
  }

  /** Serves HTTP/2 on `connection`: a net.Socket (nghttp2 then reads it itself) or any Duplex. */
  handleConnection(connection: Duplex): void {
    if (this.closing) {
      connection.destroy();
      return;
    }
    this.h2.emit('connection', connection);
  }

  /**
   * Sends GOAWAY on every connection and waits for their calls to end; after graceMs cuts what
   * is left (those calls are aborted as cancelled).
   */
  shutdown(graceMs: number): Promise<'graceful' | 'forced'> {
    this.closing = true;
    const open = [...this.sessions];
    if (!open.length) return Promise.resolve('graceful');
    return new Promise((resolve) => {
      let left = open.length;
      const timer = setTimeout(() => {
        for (const s of open) s.destroy();
        resolve('forced');
      }, graceMs);
      for (const s of open) {
        s.once('close', () => {
          if (--left === 0) {
            clearTimeout(timer);
            resolve('graceful');
          }
        });
        s.close();
      }
    });
  }

  forceShutdown(): void {
    this.closing = true;
    for (const s of this.sessions) s.destroy();
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    // A stream error (its session lost, a frame error) shows as 'close' too, where it is handled.
    stream.on('error', noop);
    const ct = contentType(headers['content-type']);
    if (ct === 'other') {
      respondOnce(stream, { ':status': 415 });
      return;
    }
    if (headers[':method'] !== 'POST') {
      respondOnce(stream, { ':status': 405 });
      return;
    }
    if (ct === 'subtype') return refuse(stream, Status.UNIMPLEMENTED, `content-type ${headers['content-type']} is not served: only application/grpc+proto`);
    const path = headers[':path'] ?? '';
    const method = this.methods.get(path);
    if (!method) return refuse(stream, Status.UNIMPLEMENTED, `unknown method ${path}`);
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      return refuse(stream, Status.UNIMPLEMENTED, `grpc-encoding ${String(encoding)} is not supported`, { 'grpc-accept-encoding': ENCODINGS });
    }
    let timeoutMs: number | undefined;
    const timeout = headers['grpc-timeout'];
    if (timeout !== undefined) {
      timeoutMs = parseTimeout(String(timeout));
      if (timeoutMs === undefined) return refuse(stream, Status.INTERNAL, `invalid grpc-timeout ${String(timeout)}`);
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
  private headersSent = false;
  private drained: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly method: Method,
    private readonly limits: GrpcServerOptions,
    private readonly encoding: string | undefined,
    timeoutMs: number | undefined,
  ) {
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.once('end', () => this.onEnd());
    stream.once('close', () => this.onClose());
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
      if (this.state !== RUNNING) return;
      if (!err) return this.run(out);
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return this.answer(Status.RESOURCE_EXHAUSTED, `request message decompresses to more than ${this.limits.maxReceiveMessageBytes} bytes`);
      }
      this.answer(Status.INTERNAL, `could not decompress the request message (${this.encoding}): ${err.message}`);
    });
  }

  private run(message: Buffer): void {
    let done: Promise<unknown>;
    try {
      done = this.method.responseStream
        ? this.method.run(message, this, (m) => this.send(m)).then(() => this.answer(Status.OK, ''))
        : this.method.run(message, this).then((answer) => this.reply(answer));
    } catch (e) {
      done = Promise.reject(e);
    }
    done.catch((e: unknown) => {
      if (e instanceof StatusError) this.answer(e.code, e.details);
      else this.answer(Status.INTERNAL, e instanceof Error ? e.message : String(e));
    });
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

  /** A unary answer: HEADERS, the message, trailers. */
  private reply(message: Uint8Array): void {
    if (this.state !== RUNNING) return; // aborted meanwhile
    const framed = this.frame(message);
    if (!framed) return;
    this.finish();
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    try {
      stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
      stream.once('wantTrailers', sendOkTrailers);
      stream.end(framed);
    } catch {
      stream.destroy();
    }
  }

  private send(message: Uint8Array): Promise<void> {
    if (this.state !== RUNNING) return Promise.reject(new StatusError(Status.CANCELLED, 'the call has ended'));
    const framed = this.frame(message);
    if (!framed) return Promise.reject(new StatusError(Status.RESOURCE_EXHAUSTED, 'answer message larger than max'));
    const stream = this.stream;
    try {
      if (!this.headersSent) {
        this.headersSent = true;
        stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
      }
      if (stream.write(framed)) return Promise.resolve();
    } catch (e) {
      stream.destroy();
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.drained = { resolve, reject };
      stream.once('drain', () => {
        this.drained = undefined;
        resolve();
      });
    });
  }

  /** Ends the call with `code`: trailers after the messages sent, else a trailers-only response. */
  private answer(code: Status, details: string): void {
    if (this.state === DONE) return;
    this.finish();
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    if (!this.headersSent) {
      const headers: http2.OutgoingHttpHeaders = { ...RESPONSE_HEADERS, 'grpc-status': String(code) };
      if (details) headers['grpc-message'] = encodeGrpcMessage(details);
      respondOnce(stream, headers);
      return;
    }
    const trailers = code === Status.OK ? OK_TRAILERS : { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) };
    try {
      stream.once('wantTrailers', () => {
        if (!stream.destroyed) stream.sendTrailers(trailers);
      });
      stream.end();
    } catch {
      stream.destroy();
    }
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
    this.finish();
    this.abort('cancelled');
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
