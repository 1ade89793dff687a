// One gRPC call on the server, once h2_server.ts has checked its request headers: DATA is
// collected until END_STREAM, bounded by the receive limit as soon as the length prefix is in;
// the one message (gzip/deflate when its compressed flag says so) goes to the method. The answer
// is HEADERS, the length-prefixed message as DATA, and trailers with grpc-status; an error before
// any message is a trailers-only response. A client's RST_STREAM (or a lost connection) before
// the answer aborts the call; so does its deadline, which also answers DEADLINE_EXCEEDED.

import { gunzip, inflate, type InputType } from 'node:zlib';
import type { Headers } from './h2_connection';
import { keepEncoded } from './h2_frames';
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

/** The server's limits a call applies (GrpcServerOptions carries them). */
export interface CallLimits {
  /** Largest request message accepted, in bytes (after decompression). */
  maxReceiveMessageBytes: number;
  /** Largest answer message sent, in bytes; a bigger one answers RESOURCE_EXHAUSTED. */
  maxSendMessageBytes: number;
  /** A request not ended this long after its HEADERS is answered DEADLINE_EXCEEDED (REQUEST_STALL_MS when unset). */
  requestStallMs?: number;
}

/**
 * CRI has no client-streaming method: kubelet and crictl send each request whole at once. One
 * still unfinished after this long is a client holding a call slot and its bytes (slowloris).
 */
export const REQUEST_STALL_MS = 10_000;

const RESPONSE_HEADERS = keepEncoded({ ':status': '200', 'content-type': 'application/grpc' });
const OK_TRAILERS = keepEncoded({ 'grpc-status': '0' });
/** setTimeout's limit; a later deadline gets no timer (it is as good as none). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const READING = 0;
const RUNNING = 1;
const DONE = 2;

export class Call implements ServerCall {
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
    private readonly limits: CallLimits,
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
