// The sandbox record as stored (JSON in the row's `record` column) and as the lookup hands it to
// containers. What only the sandbox subsystem needs (what to undo, how the network was attached)
// sits next to the public SandboxRecord fields.

import { LinuxSandboxSecurityContext } from '../gen/api';
import type { CriPortMapping } from '../network';
import type { SandboxRecord } from './api';

export interface SandboxInternals {
  /** The handler as the request named it ("" = default); Status echoes it. */
  requestedRuntimeHandler: string;
  /** Cgroup dirs this sandbox created (only these are removed). */
  cgroupCreated: string[];
  /** False for host IPC: nothing of ours is mounted at shmPath. */
  shmOwned: boolean;
  sandboxDir: string;
  portMappings: CriPortMapping[];
  /** Namespace option as sent, for Status. */
  namespaceOptions: { network: number; pid: number; ipc: number; targetId: string };
  podInitPid: number;
}

export type StoredRecord = Omit<SandboxRecord, 'state' | 'createdAt'> & { internals: SandboxInternals };

/** The security context holds int64s (bigint): it goes through the proto JSON mapping. */
export function encodeRecord(r: StoredRecord): string {
  const sc = r.securityContext ? LinuxSandboxSecurityContext.toJSON(r.securityContext as LinuxSandboxSecurityContext) : null;
  return JSON.stringify({ ...r, securityContext: sc });
}

export function decodeRecord(json: string): StoredRecord {
  const r = JSON.parse(json) as StoredRecord;
  if (r.securityContext) r.securityContext = LinuxSandboxSecurityContext.fromJSON(r.securityContext);
  return r;
}

export function publicRecord(r: StoredRecord, state: SandboxRecord['state'], createdAt: bigint): SandboxRecord {
  const { internals: _internals, ...rest } = r;
  return { ...rest, state, createdAt };
}
