// The one wrapper around every CRI handler: request id, a child logger, metrics, the init gate,
// cancellation as an AbortSignal, decoding and encoding of the messages, and the mapping of typed
// errors to gRPC status codes. Handlers only throw errors from src/errors.ts and never see the
// transport (grpc/h2_server.ts).

import { randomBytes } from 'node:crypto';
import { CancelledError, DeadlineExceededError, InvalidArgumentError, UnavailableError, UnimplementedError, isNoriError, type ErrorKind } from '../errors';
import type { AbortReason, Method, ServerCall, StreamMethod, UnaryMethod } from '../grpc/h2_server';
import { Status, StatusError } from '../grpc/status';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { CallContext, HandlerTable, StreamHandler, UnaryHandler } from './context';
import { PreEncoded } from './pre_encoded';

const CODES: Record<ErrorKind, Status> = {
  NotFound: Status.NOT_FOUND,
  AlreadyExists: Status.ALREADY_EXISTS,
  InvalidArgument: Status.INVALID_ARGUMENT,
  FailedPrecondition: Status.FAILED_PRECONDITION,
  Unavailable: Status.UNAVAILABLE,
  DeadlineExceeded: Status.DEADLINE_EXCEEDED,
  Unimplemented: Status.UNIMPLEMENTED,
  ResourceExhausted: Status.RESOURCE_EXHAUSTED,
  Cancelled: Status.CANCELLED,
  Internal: Status.INTERNAL,
};

/** Start-up recovery flips this; until then every call answers UNAVAILABLE. */
export class InitGate {
  private open = false;
  markReady(): void {
    this.open = true;
  }
  get ready(): boolean {
    return this.open;
  }
}

export function toStatus(err: unknown): { code: Status; details: string } {
  if (isNoriError(err)) return { code: CODES[err.kind], details: err.message };
  return { code: Status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/**
 * One method of a generated service definition (ts-proto's generic definitions in src/gen):
 * plain data, so serving them loads no gRPC library.
 */
export interface MethodDefinition {
  /** the proto name, e.g. `RunPodSandbox` */
  name: string;
  responseStream: boolean;
  requestType: { decode(input: Uint8Array): unknown };
  responseType: { encode(message: any): { finish(): Uint8Array } };
}

export interface ServiceDefinition {
  /** e.g. `runtime.v1.RuntimeService` */
  fullName: string;
  methods: Record<string, MethodDefinition>;
}

const BOOT = randomBytes(3).toString('hex');

/**
 * The request decoded, or the InvalidArgument it earns: bytes that are not a valid message of
 * the request type (truncated, wrong wire types, lengths past the end) are refused before any
 * handler runs.
 */
function decode(rpc: string, def: MethodDefinition, bytes: Buffer): { req: unknown; err?: undefined } | { err: Error } {
  try {
    return { req: def.requestType.decode(bytes) };
  } catch (e) {
    return { err: new InvalidArgumentError(`malformed ${rpc} request: ${e instanceof Error ? e.message : String(e)}`) };
  }
}

/** An answer that is a PreEncoded goes out as its bytes. */
function encode(def: MethodDefinition, value: unknown): Uint8Array {
  return value instanceof PreEncoded ? value.bytes : def.responseType.encode(value).finish();
}

function statusError(err: unknown): StatusError {
  const s = toStatus(err);
  return new StatusError(s.code, s.details);
}

type Meters = { total: { inc(): void }; seconds: { observe(value: number): void } };
type InFlight = { inc(): void; dec(): void };

export class Edge {
  private seq = 0;
  private readonly meters = new Map<string, Meters>();
  private readonly inFlight = new Map<string, InFlight>();

  /** Calls started so far (idle detection). */
  get calls(): number {
    return this.seq;
  }

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly gate: InitGate,
  ) {}

  /** The server's methods for every method of `def`, keyed by path, backed by `handlers`. */
  implement(def: ServiceDefinition, handlers: HandlerTable): Record<string, Method> {
    const out: Record<string, Method> = {};
    for (const method of Object.values(def.methods)) {
      const rpc = method.name;
      const handler = handlers[rpc] ?? unimplemented(rpc);
      out[`/${def.fullName}/${rpc}`] = method.responseStream
        ? this.wrapStream(rpc, method, handler as StreamHandler)
        : this.wrapUnary(rpc, method, handler as UnaryHandler);
    }
    return out;
  }

  /**
   * The call's context. Most calls (the polled reads) never look at their signal or log, so the
   * AbortController and the child logger are made on first use: each costs more than the read
   * itself. A cancellation or deadline (the server times it) that came before that first use
   * still shows, as a signal that is already aborted.
   */
  private context(rpc: string, call: ServerCall) {
    const requestId = `${BOOT}-${(++this.seq).toString(36)}`;
    let controller: AbortController | undefined;
    let finished = false;
    const reasonOf = (why: AbortReason) =>
      why === 'deadline' ? new DeadlineExceededError(`${rpc}: deadline exceeded`) : new CancelledError(`${rpc}: cancelled by the client`);
    const signal = (): AbortSignal => {
      if (controller) return controller.signal;
      controller = new AbortController();
      if (call.aborted) controller.abort(reasonOf(call.aborted));
      return controller.signal;
    };
    // Only an abort that comes while the call runs means anything.
    call.onAbort = (why) => {
      if (!finished) controller?.abort(reasonOf(why));
    };
    let log: Logger | undefined;
    const baseLog = this.log;
    const ctx: CallContext = {
      requestId,
      rpc,
      get log() {
        return (log ??= baseLog.child({ rpc, req: requestId }));
      },
      get signal() {
        return signal();
      },
      deadline: call.deadline,
    };
    return {
      ctx,
      done: () => {
        finished = true;
      },
    };
  }

  /**
   * The metric series of an RPC and outcome, looked up once: prom-client hashes the label object
   * on every inc or observe, which cost a cold call more than the polled read itself.
   */
  private metersOf(rpc: string, code: string): Meters {
    const key = `${rpc} ${code}`;
    let m = this.meters.get(key);
    if (!m) {
      m = { total: this.metrics.rpcTotal.labels(rpc, code), seconds: this.metrics.rpcSeconds.labels(rpc, code) };
      this.meters.set(key, m);
    }
    return m;
  }

  private inFlightOf(rpc: string): InFlight {
    let g = this.inFlight.get(rpc);
    if (!g) {
      g = this.metrics.rpcInFlight.labels(rpc);
      this.inFlight.set(rpc, g);
    }
    return g;
  }

  private finish(rpc: string, ctx: CallContext, started: bigint, err: unknown): Status {
    const code = err === undefined ? Status.OK : toStatus(err).code;
    const label = Status[code];
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const m = this.metersOf(rpc, label);
    m.total.inc();
    m.seconds.observe(seconds);
    this.inFlightOf(rpc).dec();
    if (err !== undefined) {
      const level = code === Status.INTERNAL || code === Status.UNKNOWN ? 'error' : 'warn';
      ctx.log[level]({ code: label, err: toStatus(err).details, ms: Math.round(seconds * 1000) }, 'call failed');
    } else if (this.log.isLevelEnabled('debug')) {
      ctx.log.debug({ ms: Math.round(seconds * 1000) }, 'call done');
    }
    return code;
  }

  /**
   * One call around `start` (the handler, run once the request decoded and the gate is open):
   * metrics, context, and the outcome logged and turned into a status on failure.
   */
  private serve<T>(rpc: string, def: MethodDefinition, bytes: Buffer, call: ServerCall, start: (req: unknown, ctx: CallContext) => Promise<T> | T): Promise<T> | T {
    const started = process.hrtime.bigint();
    this.inFlightOf(rpc).inc();
    const { ctx, done } = this.context(rpc, call);
    const result = this.begin(rpc, def, bytes, (req) => start(req, ctx));
    if (!isPromise(result)) {
      done();
      this.finish(rpc, ctx, started, undefined);
      return result;
    }
    return result.then(
      (res) => {
        done();
        this.finish(rpc, ctx, started, undefined);
        return res;
      },
      (err: unknown) => {
        done();
        this.finish(rpc, ctx, started, err);
        throw statusError(err);
      },
    );
  }

  /** Runs `start` once the request decoded and the gate is open; a failure is a rejected promise. */
  private begin<T>(rpc: string, def: MethodDefinition, bytes: Buffer, start: (req: unknown) => Promise<T> | T): Promise<T> | T {
    const d = decode(rpc, def, bytes);
    if (d.err) return Promise.reject(d.err);
    if (!this.gate.ready) return Promise.reject(notReady());
    try {
      return start(d.req);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private wrapUnary(rpc: string, def: MethodDefinition, handler: UnaryHandler): UnaryMethod {
    return {
      responseStream: false,
      run: (bytes, call) => {
        const res = this.serve(rpc, def, bytes, call, (req, ctx) => handler(req, ctx));
        return isPromise(res) ? res.then((r) => encode(def, r)) : encode(def, res);
      },
    };
  }

  private wrapStream(rpc: string, def: MethodDefinition, handler: StreamHandler): StreamMethod {
    return {
      responseStream: true,
      run: (bytes, call, sendBytes) =>
        Promise.resolve(this.serve(rpc, def, bytes, call, (req, ctx) => {
          const send = (msg: unknown): Promise<void> => {
            if (ctx.signal.aborted) return Promise.reject(ctx.signal.reason);
            return sendBytes(encode(def, msg)).catch((e: unknown) => {
              throw ctx.signal.aborted ? ctx.signal.reason : e;
            });
          };
          return handler(req, ctx, send);
        })),
    };
  }
}

function isPromise<T>(value: Promise<T> | T): value is Promise<T> {
  return value instanceof Promise;
}

function notReady(): Error {
  return new UnavailableError('nori is starting: state recovery has not finished');
}

function unimplemented(rpc: string): UnaryHandler & StreamHandler {
  return async () => {
    throw new UnimplementedError(`${rpc} is not implemented by nori yet`);
  };
}
