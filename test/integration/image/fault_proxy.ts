// A plain-HTTP proxy in front of a test registry that misbehaves on purpose: per request it
// passes, answers 503, resets the connection after the first chunk of the body, or sends the
// first chunk and then stalls. Runs in the test process (so the test must not block its event
// loop while nori talks to it).

import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLoopbackHttp } from '../../helpers/loopback-http';

export type FaultAction = 'pass' | '503' | 'reset' | 'stall';

export interface ProxiedRequest {
  method: string;
  path: string;
  /** 1-based count of requests for this path so far, this one included */
  nth: number;
}

export interface FaultProxy {
  /** 127.0.0.1:PORT */
  host: string;
  /** every request seen, in order */
  seen: Array<ProxiedRequest & { action: FaultAction }>;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string, plan: (r: ProxiedRequest) => FaultAction): Promise<FaultProxy> {
  const counts = new Map<string, number>();
  const seen: FaultProxy['seen'] = [];
  const server = await listenLoopbackHttp((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const nth = (counts.get(path) ?? 0) + 1;
    counts.set(path, nth);
    const r = { method: req.method ?? 'GET', path, nth };
    const action = plan(r);
    seen.push({ ...r, action });
    if (action === '503') {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      res.end('injected failure\n');
      return;
    }
    const up = request(`http://${target}${path}`, { method: req.method, headers: { ...req.headers, host: target } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (action === 'pass') {
        ur.pipe(res);
        return;
      }
      ur.once('data', (chunk: Buffer) => {
        res.write(chunk);
        ur.pause();
        if (action === 'reset') setTimeout(() => req.socket.destroy(), 50);
        // 'stall': nothing more, until the client gives up or the proxy stops
      });
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  return { host: server.host, seen, stop: server.stop };
}
