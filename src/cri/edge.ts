// The one wrapper around every CRI handler: request id, a child logger, metrics, the init gate,
// cancellation as an AbortSignal, and the mapping of typed errors to gRPC status codes. Handlers
// only throw errors from src/errors.ts and never see grpc-js.

import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { CancelledError, DeadlineExceededError, InvalidArgumentError, UnavailableError, UnimplementedError, isNoriError, type ErrorKind } from '../errors';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import type { CallContext, HandlerTable, StreamHandler, UnaryHandler } from './context';

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
 * MalformedRequest, which it refuses with InvalidArgument before any handler runs.
 */
export function tolerantDefinition<D extends grpc.ServiceDefinition>(def: D): D {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [key, m] of Object.entries(def)) {
    out[key] = {
      ...m,
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

  private context(rpc: string, call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>) {
    const requestId = `${BOOT}-${(++this.seq).toString(36)}`;
    const controller = new AbortController();
    const deadlineValue = call.getDeadline();
    const deadline = deadlineValue instanceof Date ? deadlineValue.getTime() : Number.isFinite(deadlineValue) ? Number(deadlineValue) : undefined;
    let timer: NodeJS.Timeout | undefined;
    if (deadline !== undefined) {
      const ms = Math.max(0, deadline - Date.now());
      timer = setTimeout(() => controller.abort(new DeadlineExceededError(`${rpc}: deadline exceeded`)), ms);
      timer.unref();
    }
    call.on('cancelled', () => controller.abort(new CancelledError(`${rpc}: cancelled by the client`)));
    const ctx: CallContext = { requestId, rpc, log: this.log.child({ rpc, req: requestId }), signal: controller.signal, deadline };
    return { ctx, done: () => timer && clearTimeout(timer) };
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
    } else {
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
