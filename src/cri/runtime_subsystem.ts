// The runtime-level RPCs: Version, Status, RuntimeConfig, UpdateRuntimeConfig.

import type { Config } from '../config';
import type { Logger } from '../log';
import type { Db } from '../store/db';
import { KvStore } from '../store/kv';
import type { Subsystem } from '../subsystem';
import { networkReadiness } from '../network/readiness';
import { runtimeConfig } from './runtime_config';
import { status } from './status';
import { updateRuntimeConfig } from './update_runtime_config';
import { version } from './version';

export function runtimeSubsystem(opts: { config: Config; db: Db; log: Logger; version: string }): Subsystem {
  const deps = {
    config: opts.config,
    version: opts.version,
    kv: new KvStore(opts.db),
    networkStatus: () => networkReadiness(opts.config.cniConfDir, opts.config.cniBinDirs),
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
