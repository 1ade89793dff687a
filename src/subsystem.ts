// A part of the daemon that serves RPCs (images, sandboxes, containers, streaming). The daemon
// builds them in order, recovers each before the init gate opens, and closes them in reverse.

import type { HandlerTable } from './cri/context';

export interface Subsystem {
  name: string;
  handlers: HandlerTable;
  /** Reconciles the store with the system after a restart; runs before any call is served. */
  recover?(): Promise<void>;
  /** Releases what the daemon holds (watchers, servers); never stops containers. */
  close?(): Promise<void>;
}
