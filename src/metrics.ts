// Prometheus metrics: one registry per daemon (tests run several daemons in one process), the
// Node process metrics, and nori's own under the `nori_` prefix.

import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AddressInfo } from 'node:net';

const EVENT_LOOP_SAMPLE_MS = 100;

export class Metrics {
  readonly registry = new Registry();

  readonly rpcTotal = new Counter({
    name: 'nori_cri_requests_total',
    help: 'CRI calls by RPC and gRPC status code',
    labelNames: ['rpc', 'code'] as const,
    registers: [this.registry],
  });

  readonly rpcSeconds = new Histogram({
    name: 'nori_cri_request_duration_seconds',
    help: 'CRI call latency by RPC and gRPC status code',
    labelNames: ['rpc', 'code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  readonly rpcInFlight = new Gauge({
    name: 'nori_cri_requests_in_flight',
    help: 'CRI calls being served',
    labelNames: ['rpc'] as const,
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    // prom-client samples the event loop's delay with a timer, every 10 ms unless told otherwise:
    // nine in ten of an idle daemon's wake-ups (measured: 193 epoll waits a second at 10 ms, 20 at
    // 100 ms). Stalls long enough to matter to a CRI client still show at 100 ms.
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** Registers a metric family owned by another module (images, sandboxes, ...). */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
  /** A counter whose value another module keeps; read at each scrape. */
  counterOf(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
  histogram<L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]): Histogram<L> {
    return new Histogram({ name, help, labelNames, registers: [this.registry], ...(buckets ? { buckets } : {}) });
  }
}

/** Serves GET /metrics; resolves with the bound port once listening. */
export function serveMetrics(metrics: Metrics, host: string, port: number): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`${err.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({ server, port: (server.address() as AddressInfo).port });
    });
  });
}
