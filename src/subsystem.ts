// A part of the daemon that serves RPCs (images, sandboxes, containers, streaming). The daemon
// builds them in order, recovers each before the init gate opens, and closes them in reverse.

import type { Config } from './config';
import type { HandlerTable } from './cri/context';
import type { Logger } from './log';
import type { Metrics } from './metrics';
import type { Db } from './store/db';
import type { Sys } from './sys/types';

/** Shared by every subsystem's factory. */
export interface SubsystemContext {
  config: Config;
  db: Db;
  log: Logger;
  metrics: Metrics;
  sys: Sys;
}

export interface Subsystem {
  name: string;
  handlers: HandlerTable;
  /** Reconciles the store with the system after a restart; runs before any call is served. */
  recover?(): Promise<void>;
  /** Releases what the daemon holds (watchers, servers); never stops containers. */
  close?(): Promise<void>;
  /** Ends calls that never finish on their own (event streams), so shutdown need not wait them out. */
  drain?(): void;
}
