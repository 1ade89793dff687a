// What the runtime-level handlers need from the daemon. Each subsystem adds its own deps type
// beside its handlers; the daemon assembles them once.

import type { Config } from '../config';
import type { ReadinessCheck } from '../health';
import type { KvStore } from '../store/kv';

export type { ReadinessCheck };

export interface RuntimeDeps {
  config: Config;
  /** nori's own version (package.json). */
  version: string;
  kv: KvStore;
  /** Whether pods can get a network now (a valid CNI configuration is loaded). */
  networkStatus(): Promise<ReadinessCheck>;
}

export const POD_CIDR_KEY = 'pod_cidr';
