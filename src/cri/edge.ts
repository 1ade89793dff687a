// The one wrapper around every CRI handler: request id, a child logger, metrics, the init gate,
// cancellation as an AbortSignal, and the mapping of typed errors to gRPC status codes. Handlers
// only throw errors from src/errors.ts and never see grpc-js.

import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { CancelledError, DeadlineExceededError, InvalidArgumentError, UnavailableError, UnimplementedError, isNoriError, type ErrorKind } from '../errors';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { CallContext, HandlerTable, StreamHandler, UnaryHandler } from './context';
import { PreEncoded } from './pre_encoded';

const CODES: Record<ErrorKind, grpc.status> = {
  NotFound: grpc.status.NOT_FOUND,
  AlreadyExists: grpc.status.ALREADY_EXISTS,
  InvalidArgument: grpc.status.INVALID_ARGUMENT,
  FailedPrecondition: grpc.status.FAILED_PRECONDITION,
  Unavailable: grpc.status.UNAVAILABLE,
  DeadlineExceeded: grpc.status.DEADLINE_EXCEEDED,
  Unimplemented: grpc.status.UNIMPLEMENTED,
  ResourceExhausted: grpc.status.RESOURCE_EXHAUSTED,
  Cancelled: grpc.status.CANCELLED,
  Internal: grpc.status.INTERNAL,
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

export function toStatus(err: unknown): { code: grpc.status; details: string } {
  if (isNoriError(err)) return { code: CODES[err.kind], details: err.message };
  return { code: grpc.status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}

/** `/runtime.v1.RuntimeService/RunPodSandbox` → `RunPodSandbox`. */
export function rpcName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

const BOOT = randomBytes(3).toString('hex');

/** What a request that did not decode becomes, so the call answers InvalidArgument (not grpc-js's INTERNAL). */
class MalformedRequest {
  constructor(readonly reason: string) {}
}

/**
 * `def` with request decoders that never throw: bytes that are not a valid message of the
 * request type (truncated, wrong wire types, lengths past the end) reach the edge wrapper as a
 * MalformedRequest, which it refuses with InvalidArgument before any handler runs. An answer
 * that is a PreEncoded goes out as its bytes.
 */
export function tolerantDefinition<D extends grpc.ServiceDefinition>(def: D): D {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [key, m] of Object.entries(def)) {
    out[key] = {
      ...m,
      responseSerialize: (v: unknown) => (v instanceof PreEncoded ? v.bytes : m.responseSerialize(v)),
      requestDeserialize: (b: Buffer) => {
        try {
          return m.requestDeserialize(b);
        } catch (e) {
          return new MalformedRequest(e instanceof Error ? e.message : String(e));
        }
      },
    };
  }
  return out as unknown as D;
}

function decoded(rpc: string, req: unknown): Promise<void> | undefined {
  if (req instanceof MalformedRequest) return Promise.reject(new InvalidArgumentError(`malformed ${rpc} request: ${req.reason}`));
  return undefined;
}

export class Edge {
  private seq = 0;

  /** Calls started so far (idle detection). */
  get calls(): number {
    return this.seq;
  }

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly gate: InitGate,
  ) {}

  /** Builds a grpc-js implementation for every method of `def`, backed by `handlers`. */
  implement(def: grpc.ServiceDefinition, handlers: HandlerTable): grpc.UntypedServiceImplementation {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [key, method] of Object.entries(def)) {
      const rpc = rpcName(method.path);
      const handler = handlers[rpc] ?? unimplemented(rpc);
      impl[key] = method.responseStream
        ? this.wrapStream(rpc, handler as StreamHandler)
        : this.wrapUnary(rpc, handler as UnaryHandler);
    }
    return impl;
  }

  /**
   * The call's context. Most calls (the polled reads) never look at their signal or log, so the
   * AbortController, the deadline timer and the child logger are made on first use: each costs
   * more than the read itself. A cancellation or deadline that came before that first use still
   * shows, as a signal that is already aborted.
   */
  private context(rpc: string, call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>) {
    const requestId = `${BOOT}-${(++this.seq).toString(36)}`;
    const deadlineValue = call.getDeadline();
    const deadline = deadlineValue instanceof Date ? deadlineValue.getTime() : Number.isFinite(deadlineValue) ? Number(deadlineValue) : undefined;
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    let cancelled = false;
    const deadlineError = () => new DeadlineExceededError(`${rpc}: deadline exceeded`);
    const cancelError = () => new CancelledError(`${rpc}: cancelled by the client`);
    const signal = (): AbortSignal => {
      if (controller) return controller.signal;
      controller = new AbortController();
      if (cancelled) controller.abort(cancelError());
      else if (deadline !== undefined) {
        const ms = deadline - Date.now();
        if (ms <= 0) controller.abort(deadlineError());
        else if (!finished) {
          timer = setTimeout(() => controller!.abort(deadlineError()), ms);
          timer.unref();
        }
      }
      return controller.signal;
    };
    // grpc-js also reports a stream closed after the answer as cancelled: only a cancel that
    // comes while the call runs means anything.
    call.on('cancelled', () => {
      if (finished || cancelled) return;
      cancelled = true;
      controller?.abort(cancelError());
    });
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
      deadline,
    };
    return {
      ctx,
      done: () => {
        finished = true;
        if (timer) clearTimeout(timer);
      },
    };
  }

  private finish(rpc: string, ctx: CallContext, started: bigint, err: unknown): grpc.status {
    const code = err === undefined ? grpc.status.OK : toStatus(err).code;
    const label = grpc.status[code];
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.metrics.rpcTotal.inc({ rpc, code: label });
    this.metrics.rpcSeconds.observe({ rpc, code: label }, seconds);
    this.metrics.rpcInFlight.dec({ rpc });
    if (err !== undefined) {
      const level = code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN ? 'error' : 'warn';
      ctx.log[level]({ code: label, err: toStatus(err).details, ms: Math.round(seconds * 1000) }, 'call failed');
    } else if (this.log.isLevelEnabled('debug')) {
      ctx.log.debug({ ms: Math.round(seconds * 1000) }, 'call done');
    }
    return code;
  }

  private wrapUnary(rpc: string, handler: UnaryHandler): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const started = process.hrtime.bigint();
      this.metrics.rpcInFlight.inc({ rpc });
      const { ctx, done } = this.context(rpc, call);
      const run = decoded(rpc, call.request) ?? (this.gate.ready ? handler(call.request, ctx) : Promise.reject(notReady()));
      run.then(
        (res) => {
          done();
          this.finish(rpc, ctx, started, undefined);
          callback(null, res);
        },
        (err: unknown) => {
          done();
          this.finish(rpc, ctx, started, err);
          callback(toStatus(err));
        },
      );
    };
  }

  private wrapStream(rpc: string, handler: StreamHandler): grpc.handleServerStreamingCall<unknown, unknown> {
    return (call) => {
      const started = process.hrtime.bigint();
      this.metrics.rpcInFlight.inc({ rpc });
      const { ctx, done } = this.context(rpc, call);
      const send = (msg: unknown): Promise<void> => {
        if (ctx.signal.aborted) return Promise.reject(ctx.signal.reason);
        if (call.write(msg)) return Promise.resolve();
        return new Promise((resolve, reject) => {
          const onAbort = () => reject(ctx.signal.reason);
          ctx.signal.addEventListener('abort', onAbort, { once: true });
          call.once('drain', () => {
            ctx.signal.removeEventListener('abort', onAbort);
            resolve();
          });
        });
      };
      const run = decoded(rpc, call.request) ?? (this.gate.ready ? handler(call.request, ctx, send) : Promise.reject(notReady()));
      run.then(
        () => {
          done();
          this.finish(rpc, ctx, started, undefined);
          call.end();
        },
        (err: unknown) => {
          done();
          this.finish(rpc, ctx, started, err);
          // grpc-js turns an 'error' event into the trailing status (destroy() would drop it).
          if (!call.cancelled) call.emit('error', Object.assign(new Error(toStatus(err).details), toStatus(err)));
        },
      );
    };
  }
}

function notReady(): Error {
  return new UnavailableError('nori is starting: state recovery has not finished');
}

function unimplemented(rpc: string): UnaryHandler & StreamHandler {
  return async () => {
    throw new UnimplementedError(`${rpc} is not implemented by nori yet`);
  };
}
