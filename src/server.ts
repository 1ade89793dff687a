// The gRPC server on a Unix socket. A socket left by a crashed nori is replaced; one that a live
// process still answers on is an error, so two daemons never steal each other's endpoint. Each
// accepted connection is routed (grpc/connection_router.ts): natively to the server's HTTP/2 when
// its first :authority is valid, through AuthorityFix when not (older Go clients send the socket
// path). The server is nori's own gRPC on node:http2 (grpc/h2_server.ts).

import { chmodSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { routeConnection } from './grpc/connection_router';
import { GrpcServer } from './grpc/h2_server';
import { dirname } from 'node:path';
import { FailedPreconditionError } from './errors';
import type { Metrics } from './metrics';
import { mkdirp } from './util/fs';

/** kubelet's own limit; lists bigger than this need the Stream* RPCs. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export async function prepareSocketPath(path: string): Promise<'fresh' | 'replaced-stale'> {
  const dir = dirname(path);
  try {
    statSync(dir);
  } catch {
    mkdirp(dir, 0o700);
  }
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return 'fresh';
  }
  if (!st.isSocket()) throw new FailedPreconditionError(`${path} exists and is not a socket; refusing to replace it`);
  if (await socketAnswers(path)) {
    throw new FailedPreconditionError(`${path} is in use by another process (is another nori running?)`);
  }
  unlinkSync(path);
  return 'replaced-stale';
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const finish = (alive: boolean) => {
      s.destroy();
      resolve(alive);
    };
    s.once('connect', () => finish(true));
    s.once('error', () => finish(false));
    s.setTimeout(1000, () => finish(false));
  });
}

/**
 * The limits grpc-js's Server had here, kept: 16 MiB messages both ways; Node's HTTP/2 defaults
 * for SETTINGS (no limit on concurrent streams, 64 KiB header lists, 128 header pairs) and for
 * invalid frames and rejected streams per session; no session memory limit (Node's 10 MB cap
 * answers big messages with ENHANCE_YOUR_CALM); no keepalive pings and no idle timeout.
 */
export function createServer(): GrpcServer {
  return new GrpcServer({
    maxReceiveMessageBytes: MAX_MESSAGE_BYTES,
    maxSendMessageBytes: MAX_MESSAGE_BYTES,
    http2: { maxSessionMemory: Number.MAX_SAFE_INTEGER, maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER },
  });
}

/**
 * Serves `server` on a unix socket through our own listener, so each connection can be routed
 * (grpc/connection_router.ts): clients with a valid :authority go to HTTP/2 natively; older Go
 * clients, which send the socket path as :authority (refused by Node's HTTP/2), through AuthorityFix.
 */
export function bindUnix(server: GrpcServer, path: string, metrics?: Metrics): Promise<NetServer> {
  const connections = metrics?.counter(
    'nori_cri_connections_total',
    'CRI connections accepted, by path: native (HTTP/2 reads the socket), rewritten (through AuthorityFix, for a socket-path :authority or an unusual first flight), rejected (not HTTP/2)',
    ['path'] as const,
  );
  const undecided = new Set<Socket>();
  const listener = createNetServer((socket) => {
    undecided.add(socket);
    socket.once('close', () => undecided.delete(socket));
    const deliver = (connection: Duplex) => {
      undecided.delete(socket);
      server.handleConnection(connection);
    };
    routeConnection(socket, deliver, (how) => connections?.inc({ path: how }));
  });
  undecidedOf.set(listener, undecided);
  return new Promise((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(path, () => {
      listener.off('error', reject);
      // Only root (and the socket's group, for a kubelet run under a dedicated group) may talk CRI.
      chmodSync(path, 0o660);
      resolve(listener);
    });
  });
}

/** Connections the router still reads, not yet the server's: shutdown closes them itself. */
const undecidedOf = new WeakMap<NetServer, Set<Socket>>();

/** Stops accepting, waits up to graceMs for in-flight calls, then cuts the rest. */
export function shutdownServer(server: GrpcServer, listener: NetServer, graceMs: number): Promise<'graceful' | 'forced'> {
  listener.close();
  for (const socket of undecidedOf.get(listener) ?? []) socket.destroy();
  return server.shutdown(graceMs);
}
