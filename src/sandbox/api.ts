// What other subsystems (containers, streaming) need from pod sandboxes. The sandbox subsystem
// implements it; containers depend only on this interface.

import type { IdRange } from '../sys/userns';

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';

export interface SandboxRecord {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  state: 'READY' | 'NOTREADY';
  runtimeHandler: string;
  /** Creation time, nanoseconds since the epoch. */
  createdAt: bigint;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  hostname: string;
  /** Modes from the pod's NamespaceOption. */
  network: NamespaceMode;
  ipc: NamespaceMode;
  pid: NamespaceMode;
  /** Pinned namespace files; absent for NODE mode (and pid unless the pod shares one). */
  nsPaths: { user?: string; net?: string; ipc?: string; uts?: string; pid?: string };
  /** The pod's own user namespace's maps (userns_options mode POD); absent: the host's. */
  userns?: { uidMappings: IdRange[]; gidMappings: IdRange[] };
  /** Files to bind-mount into each container. */
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
  /** The pod's /dev/shm (a tmpfs), or /dev/shm of the host for host IPC. */
  shmPath: string;
  /** cgroupfs path of the pod (e.g. /kubepods/burstable/pod<uid>), or systemd slice name. */
  cgroupParent: string;
  /** Linux security context of the pod (raw CRI message, for containers to inherit). */
  securityContext: unknown;
  sysctls: Record<string, string>;
  ip: string;
  additionalIps: string[];
  logDirectory: string;
}

export interface PodContainerHooks {
  /** Stops every container of the pod (their own grace periods); used by StopPodSandbox. */
  stopPodContainers(sandboxId: string, signal: AbortSignal): Promise<void>;
  /** Removes every container of the pod, forcibly; used by RemovePodSandbox. */
  removePodContainers(sandboxId: string): Promise<void>;
}

export interface SandboxLookup {
  /** By full id or unique prefix; undefined if none or ambiguous. */
  get(idOrPrefix: string): SandboxRecord | undefined;
  /** Every sandbox id (READY and NOTREADY), to tell an ambiguous prefix from an unknown one. */
  ids?(): Iterable<string>;
  setContainerHooks(hooks: PodContainerHooks): void;
}
