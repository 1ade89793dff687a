// What the scenarios need from a runtime under test, whichever it is.

import type { CriClient } from '../../test/helpers/cri-client';
import type { AnswerTimes } from '../answer_probe';

export type RuntimeName = 'nori' | 'containerd';

export interface BenchRuntime {
  name: RuntimeName;
  /** unix:///... */
  endpoint: string;
  client: CriClient;
  /** the daemon's own PID (for its RSS) */
  pid: number;
  /** directory the scenarios put pod log directories under */
  logRoot: string;
  /** the per-container monitor processes of this runtime (conmon / containerd-shim-runc-v2) that
   *  belong to this daemon, found by their command line naming our private dirs or socket */
  monitorPids(): number[];
  /** where the daemon keeps its state (searched for an image's digests to check a pull is cold) */
  dataDir: string;
  /** Prometheus endpoint, when the runtime has one the bench reads (nori) */
  metricsUrl?: () => string | undefined;
  /** the bridge its CNI conflist creates */
  bridge: string;
  /**
   * Stops the daemon (`kill`: kill -9, its containers keep running; `term`: SIGTERM and wait for
   * its exit), then starts a new daemon on the same dirs and times, from the new process's
   * spawn, its first Version and then its first ListContainers (recovery done). `client` and
   * `pid` name the new daemon afterwards.
   */
  restart?(how?: 'kill' | 'term'): Promise<RestartTimes>;
  /** the daemon's log lines so far, parsed (nori) */
  logs?(): Record<string, unknown>[];
  /** stops the daemon and removes everything it made; returns problems found (leftovers) */
  teardown(): Promise<string[]>;
}

/** The conflist both runtimes get: same plugins, own network name, bridge, subnet, IPAM dir. */
export function benchConflist(name: string, bridge: string, subnet: string, ipamDir: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: ipamDir,
          },
        },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      ],
    },
    null,
    1,
  );
}

export interface RestartTimes extends AnswerTimes {
  /** how long the old daemon took to exit after the signal */
  stopMs: number;
}

/**
 * NORI_BENCH_NET_ID=1..9 gives a bench its own bridges and subnets (nbenchN / cbenchN,
 * 10.(203+2N-2).0.0/16 and the next), so two benches can run at once; unset or 0: the defaults.
 */
export function benchNet(runtime: 'nori' | 'containerd', name: string, bridge0: string, subnet0: string): { name: string; bridge: string; subnet: string } {
  const id = Number(process.env.NORI_BENCH_NET_ID ?? 0);
  if (!Number.isInteger(id) || id < 0 || id > 9) throw new Error(`NORI_BENCH_NET_ID must be 0-9, got ${process.env.NORI_BENCH_NET_ID}`);
  if (id === 0) return { name, bridge: bridge0, subnet: subnet0 };
  const octet = 203 + 2 * (id - 1) + (runtime === 'nori' ? 0 : 1);
  return { name: `${name}${id}`, bridge: `${bridge0.slice(0, -1)}${id}`, subnet: `10.${octet}.0.0/16` };
}
