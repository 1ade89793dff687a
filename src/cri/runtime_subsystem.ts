// The runtime-level RPCs: Version, Status, RuntimeConfig, UpdateRuntimeConfig.

import type { Config } from '../config';
import type { Logger } from '../log';
import type { Db } from '../store/db';
import { KvStore } from '../store/kv';
import type { Subsystem } from '../subsystem';
import { networkReadiness } from '../network/readiness';
import type { ReadinessCheck } from './deps';
import { runtimeConfig } from './runtime_config';
import { status } from './status';
import { updateRuntimeConfig } from './update_runtime_config';
import { version } from './version';

export function runtimeSubsystem(opts: {
  config: Config;
  db: Db;
  log: Logger;
  version: string;
  /** NetworkReady of the pod network in use (default: a CNI config is loadable). */
  networkStatus?: () => Promise<ReadinessCheck>;
}): Subsystem {
  const deps = {
    config: opts.config,
    version: opts.version,
    kv: new KvStore(opts.db),
    networkStatus: opts.networkStatus ?? (() => networkReadiness(opts.config.cniConfDir, opts.config.cniBinDirs)),
  };
  return {
    name: 'runtime',
    handlers: {
      Version: version(deps),
      Status: status(deps),
      RuntimeConfig: runtimeConfig(deps),
      UpdateRuntimeConfig: updateRuntimeConfig(deps),
    },
  };
}
