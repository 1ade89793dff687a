// Port-forward plumbing shared by SPDY and WebSocket: open the TCP connection inside the pod's
// network namespace and copy bytes both ways, honouring half-close in each direction.

import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { getSys } from '../sys';
import type { ExecTarget, PortDialer } from './types';

const CONNECT_TIMEOUT_MS = 10_000;

/** The default dialer: a socket opened in the pod's netns by the native addon, or a plain connect. */
export function netnsDialer(target: () => ExecTarget | undefined): PortDialer {
  return async (sandboxId, port) => {
    const t = target();
    if (!t) throw new Error('no container runtime attached to the streaming server');
    const netns = t.podNetns(sandboxId);
    if (netns === null) return connectHost(port);
    const fd = await getSys().connectInNetns(netns, '127.0.0.1', port, { timeoutMs: CONNECT_TIMEOUT_MS });
    const sock = new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    return sock;
  };
}

function connectHost(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const t = setTimeout(() => s.destroy(new Error(`connect to localhost:${port} timed out`)), CONNECT_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(t);
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/**
 * Copies client <-> tcp until both directions have ended. The client's end-of-stream becomes a
 * TCP FIN (shutdown write), the server's FIN ends the client stream; the other way keeps flowing.
 */
export function pipeBothWays(client: Duplex, tcp: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    let open = 2;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      resolve();
    };
    const oneDone = () => {
      if (--open === 0) finish();
    };
    client.pipe(tcp); // ends (shutdown SHUT_WR) tcp when the client half-closes
    tcp.pipe(client); // ends the client stream when the pod's server half-closes
    client.once('end', oneDone);
    tcp.once('end', oneDone);
    const abort = () => {
      tcp.destroy();
      finish();
    };
    tcp.once('error', abort);
    client.once('error', abort);
    client.once('close', abort);
    tcp.once('close', () => {
      if (!client.writableEnded) client.end();
      finish();
    });
  });
}
