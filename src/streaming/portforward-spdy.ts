// portforward.k8s.io over SPDY: the client opens an error stream and a data stream per forwarded
// connection, tied by the requestID header (older clients without it: derived from stream ids,
// as kubelet does). Each pair gets one TCP connection to localhost:<port> in the pod.

import type { Logger } from '../log';
import { pipeBothWays } from './portforward';
import type { SpdyConnection, SpdyStream } from './spdy/connection';
import type { PortDialer } from './types';

/** A pair whose second stream never comes is dropped after this long (kubelet: 30 s). */
const PAIR_TIMEOUT_MS = 30_000;

interface Pair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

export function servePortForwardSpdy(conn: SpdyConnection, sandboxId: string, dial: PortDialer, log: Logger): void {
  const pairs = new Map<string, Pair>();
  conn.on('stream', (s: SpdyStream) => {
    s.on('error', () => undefined);
    const type = s.header('streamtype');
    if (type !== 'data' && type !== 'error') {
      s.reset();
      return;
    }
    let id = s.header('requestid');
    if (id === undefined || id === '') id = String(type === 'error' ? s.id : s.id - 2);
    let pair = pairs.get(id);
    if (!pair) {
      const key = id;
      pair = {
        timer: setTimeout(() => {
          const p = pairs.get(key);
          pairs.delete(key);
          p?.data?.reset();
          p?.error?.reset();
        }, PAIR_TIMEOUT_MS).unref(),
      };
      pairs.set(id, pair);
    }
    if (pair[type]) {
      s.reset();
      return;
    }
    pair[type] = s;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(id);
      void forward(pair.data, pair.error, sandboxId, dial, log);
    }
  });
  conn.once('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
  });
}

async function forward(data: SpdyStream, error: SpdyStream, sandboxId: string, dial: PortDialer, log: Logger): Promise<void> {
  const portText = data.header('port') ?? '';
  const port = Number(portText);
  error.resume(); // the client never writes here; drain its FIN
  try {
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new Error(`invalid port ${JSON.stringify(portText)}`);
    const tcp = await dial(sandboxId, port);
    await pipeBothWays(data, tcp);
  } catch (e) {
    const msg = `error forwarding port ${portText} to pod ${sandboxId}: ${e instanceof Error ? e.message : String(e)}`;
    log.debug({ err: e, port: portText }, 'streaming: port-forward failed');
    if (!error.destroyed) error.write(msg);
    if (!data.destroyed && !data.writableEnded) data.end();
  }
  if (!error.destroyed) error.end();
}
