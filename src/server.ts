// The gRPC server on a Unix socket. A socket left by a crashed nori is replaced; one that a live
// process still answers on is an error, so two daemons never steal each other's endpoint. The
// server is nori's own gRPC on its own HTTP/2 (grpc/h2_server.ts, grpc/h2_connection.ts).

import { chmodSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer as createNetServer, type Server as NetServer } from 'node:net';
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
 * The limits grpc-js's Server had here, kept: 16 MiB messages both ways; 64 KiB header lists, as
 * Node's HTTP/2 had; no keepalive pings and no idle timeout. The HTTP/2 limits (calls per
 * connection, header blocks, windows) are in grpc/h2_connection.ts. `onRequestBurstOver` runs when
 * the requests held after a burst of big ones are let go (grpc/h2_budget.ts).
 */
export function createServer(onRequestBurstOver?: () => void): GrpcServer {
  return new GrpcServer({ maxReceiveMessageBytes: MAX_MESSAGE_BYTES, maxSendMessageBytes: MAX_MESSAGE_BYTES, onRequestBurstOver });
}

/** Serves `server` on a unix socket through our own listener (mode 0660). */
export function bindUnix(server: GrpcServer, path: string, metrics?: Metrics): Promise<NetServer> {
  const connections = metrics?.counter('nori_cri_connections_total', 'CRI connections accepted');
  const refused = metrics?.counter('nori_cri_connections_refused_total', 'CRI connections closed at once: too many open, or the daemon is stopping');
  metrics?.counterOf('nori_cri_connections_shed_total', 'CRI connections closed to make room for a new one past the limit: the one that has done nothing useful the longest (idle, or only stalled requests)', () => server.refusals().connectionsShed);
  metrics?.counterOf('nori_cri_streams_refused_total', 'CRI calls answered REFUSED_STREAM (calls in progress at their limit, or the connection closing)', () => server.refusals().streamsRefused);
  metrics?.counterOf('nori_cri_requests_stalled_total', 'CRI requests not sent whole in time, answered DEADLINE_EXCEEDED', () => server.refusals().requestsStalled);
  const listener = createNetServer((socket) => {
    if (server.handleConnection(socket)) connections?.inc();
    else refused?.inc();
  });
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

/** Stops accepting, waits up to graceMs for in-flight calls, then cuts the rest. */
export function shutdownServer(server: GrpcServer, listener: NetServer, graceMs: number): Promise<'graceful' | 'forced'> {
  listener.close();
  return server.shutdown(graceMs);
}
