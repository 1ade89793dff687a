import type { Config } from '../config';
import type { ImageLookup } from '../image/api';
import type { Logger } from '../log';
import type { SandboxLookup } from '../sandbox/api';
import type { Db } from '../store/db';
import type { Sys } from '../sys/types';
import type { UsernsSys } from '../sys/userns';
import type { CgroupReader } from './cgroup_stats';
import type { MountPreparer } from './prepared_mounts';
import type { NodeDefaults, SpecInput, SpecResult } from './spec/types';

export interface ContainerManagerDeps {
  config: Config;
  db: Db;
  log: Logger;
  sys: Sys;
  images: ImageLookup;
  sandboxes: SandboxLookup;
  buildSpec(input: SpecInput): SpecResult;
  /** mountInfo false: the caller needs no mount table (NodeDefaults.mountInfo may be absent). */
  nodeDefaults(need?: { mountInfo?: boolean }): NodeDefaults;
  cgroups?: CgroupReader;
  /** Stages what the runtime cannot mount itself (prepared_mounts.ts); one over the state dir if absent. */
  mountPreparer?: MountPreparer;
  /** Idmapped mounts for pods with their own user namespace; default: the native one. */
  userns?: UsernsSys;
}
