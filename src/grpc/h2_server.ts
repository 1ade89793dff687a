// A gRPC server for what nori serves: unary and server-streaming methods whose request is one
// message (grpc/grpc doc/PROTOCOL-HTTP2.md), on nori's own HTTP/2 connection (h2_connection.ts).
// It replaces grpc-js's Server, whose layers (interceptors, metadata objects, channelz, a read
// queue per call) cost more CPU per call than the CRI's polled reads themselves, and then
// node:http2, whose per-stream objects and separate writes cost more than the rest of the call.
//
// Per call: the request headers are checked (content-type application/grpc[+proto], POST, a
// known :path, grpc-encoding, grpc-timeout); the call (h2_call.ts) then reads the request, runs
// the method and answers.

import type { Duplex } from 'node:stream';
import { SharedBudget } from './h2_budget';
import { Call, REQUEST_STALL_MS, type CallLimits, type Method } from './h2_call';
import { H2Connection, type Headers } from './h2_connection';
import { H2Error, goaway, settingsFrame } from './h2_frames';
import type { H2ServerStream } from './h2_stream';
import { Status, encodeGrpcMessage } from './status';

export type { AbortReason, Method, ServerCall, StreamMethod, UnaryMethod } from './h2_call';

/** The server's limits; those each call applies (message sizes, the request stall time) are CallLimits (h2_call.ts). */
export interface GrpcServerOptions extends CallLimits {
  /** Request bytes a connection's calls in progress may hold together (h2_held.ts's default when unset). */
  maxHeldRequestBytes?: number;
  /** Calls in progress and held request bytes on all connections together (h2_budget.ts's defaults when unset). */
  maxServerCalls?: number;
  maxServerHeldBytes?: number;
  /** What each connection keeps of those when the server-wide budget is spent (h2_budget.ts's defaults when unset). */
  callsKeptPerConnection?: number;
  heldBytesKeptPerConnection?: number;
  /**
   * Open connections. Past it, the connection that has done nothing useful the longest (no call
   * in progress, or only stalled requests) is closed to make room; when every connection is at
   * work, the new one is told GOAWAY (ENHANCE_YOUR_CALM) and closed.
   */
  maxConnections?: number;
  /**
   * Called when the request bytes held server-wide fall back after a burst (h2_budget.ts's
   * BURST_HELD_BYTES): their buffers are garbage, and the daemon may give the memory back.
   */
  onRequestBurstOver?: () => void;
  requestBurstBytes?: number;
}

/** kubelet holds one or two connections and each crictl run one; a thousand is far past any real node. */
export const MAX_CONNECTIONS = 1024;

/** How long a connection's requests must have made no progress before it may be closed to make room. */
const STALLED_SHED_MS = 1000;

/** What a client past maxConnections reads before the socket closes. */
const TOO_MANY_CONNECTIONS = Buffer.concat([settingsFrame([]), goaway(0, H2Error.ENHANCE_YOUR_CALM, 'too many connections')]);

const ENCODINGS = 'identity,deflate,gzip';
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
  private connectionsShed = 0;
  private requestsStalled = 0;

  constructor(private readonly options: GrpcServerOptions) {
    this.budget = new SharedBudget({
      maxCalls: options.maxServerCalls,
      maxHeld: options.maxServerHeldBytes,
      callsKept: options.callsKeptPerConnection,
      heldKept: options.heldBytesKeptPerConnection,
      burstBytes: options.requestBurstBytes,
    });
    this.budget.onBurstOver = options.onRequestBurstOver;
  }

  /** Serves `methods`, keyed by path (`/runtime.v1.RuntimeService/Version`). */
  addMethods(methods: Record<string, Method>): void {
    for (const [path, m] of Object.entries(methods)) {
      if (this.methods.has(path)) throw new Error(`${path} is served twice`);
      this.methods.set(path, m);
    }
  }

  /** What the limits turned away since the start, for the daemon's metrics. */
  refusals(): { streamsRefused: number; connectionsShed: number; requestsStalled: number } {
    return { streamsRefused: this.budget.streamsRefused, connectionsShed: this.connectionsShed, requestsStalled: this.requestsStalled };
  }

  /** Serves HTTP/2 on `connection` (an accepted socket); false when it was refused (shutting down, too many open). */
  handleConnection(connection: Duplex): boolean {
    if (this.closing) {
      connection.destroy();
      return false;
    }
    if (this.connections.size >= (this.options.maxConnections ?? MAX_CONNECTIONS) && !this.makeRoom()) {
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
   * Makes room for one more connection by closing the one that has done nothing useful the
   * longest: no call in progress, or only requests the client stopped sending for over a second.
   * False when every connection is at work. A client holding many idle or stalled connections
   * thus cannot lock kubelet out; a connection with a running call is never closed for this.
   */
  private makeRoom(): boolean {
    const stalledBefore = performance.now() - STALLED_SHED_MS;
    let uselessLongest: H2Connection | undefined;
    let since = Infinity;
    for (const c of this.connections) {
      const t = c.sheddableSince(stalledBefore);
      if (t !== undefined && t < since) {
        since = t;
        uselessLongest = c;
      }
    }
    if (!uselessLongest) return false;
    this.connectionsShed++;
    this.connections.delete(uselessLongest);
    uselessLongest.shed('too many connections: closed to make room, having done nothing the longest');
    return true;
  }

  /** Every so often, answers the requests left unfinished past the stall time. */
  private sweepStalledRequests(): NodeJS.Timeout {
    const stallMs = this.options.requestStallMs ?? REQUEST_STALL_MS;
    const sweep = () => {
      const cutoff = performance.now() - stallMs;
      for (const c of this.connections) this.requestsStalled += c.expireStalled(cutoff);
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
