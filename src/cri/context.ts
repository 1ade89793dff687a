// What every handler receives besides its request.

import type { Logger } from '../log';

export interface CallContext {
  /** Short id that ties the call's log lines together. */
  requestId: string;
  /** RPC name as in the proto, e.g. "RunPodSandbox". */
  rpc: string;
  log: Logger;
  /** Aborted when the client cancels or the call's deadline passes. */
  signal: AbortSignal;
  /** Epoch milliseconds of the client's deadline, if it sent one. */
  deadline?: number;
}

/**
 * A unary handler; one that can answer without waiting may return its answer itself, and the
 * call is then answered in the same turn as its request was read (no microtask hops).
 */
export type UnaryHandler<Req = any, Res = any> = (req: Req, ctx: CallContext) => Promise<Res> | Res;
export type StreamHandler<Req = any, Res = any> = (
  req: Req,
  ctx: CallContext,
  send: (msg: Res) => Promise<void>,
) => Promise<void>;

/** Handlers keyed by RPC name ("Version", "StreamContainers"); missing ones answer UNIMPLEMENTED. */
export type HandlerTable = Record<string, UnaryHandler | StreamHandler>;
