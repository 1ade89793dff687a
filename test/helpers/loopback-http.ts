// A plain-HTTP server on 127.0.0.1 and a free port, for the doubles that run in the test's own
// process (the hostile registry, the fault proxy, the token server). stop() destroys every open
// connection before closing: a stalled or endless response would otherwise keep close() waiting.

import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface LoopbackHttpServer {
  /** 127.0.0.1:PORT */
  host: string;
  stop(): Promise<void>;
}

export async function listenLoopbackHttp(handler: RequestListener): Promise<LoopbackHttpServer> {
  const sockets = new Set<Socket>();
  const server = createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
