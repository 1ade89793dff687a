// What the scenarios need from a runtime under test, whichever it is.

import type { CriClient } from '../../test/helpers/cri-client';

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
   * kill -9 of the daemon (its containers keep running), then a new daemon on the same dirs;
   * resolves with the milliseconds from the new process's spawn until it answered a
   * ListContainers (recovery done). `client` and `pid` name the new daemon afterwards.
   */
  restart?(): Promise<number>;
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
