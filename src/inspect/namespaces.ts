// Namespaces as the kernel names them: the inode behind /proc/PID/ns/<type> (or behind a pinned
// nsfs file), and whether it is the pod's, the host's or the process' own. "Host" means the
// namespaces nori itself runs in: pid 1's may not be readable (a sandboxed init refuses ptrace
// access), and a host-network pod shares nori's netns, which is the point of the comparison.

import { readlinkSync, statSync } from 'node:fs';

export const NS_TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;
export type NsType = (typeof NS_TYPES)[number];

export type NsSharing = 'host' | 'pod' | 'own';

export interface NamespaceEntry {
  type: NsType;
  inode: number;
  sharedWith: NsSharing;
  /** The pinned file holding it, for the pod's own namespaces. */
  path?: string;
}

/** "net:[4026531840]" → 4026531840; undefined when the process or namespace is gone. */
export function nsInode(pid: number | 'self', type: string): number | undefined {
  try {
    const m = /\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/ns/${type}`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** A pinned namespace file (an nsfs bind mount) has the namespace's inode as its own. */
export function pinnedInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

let host: Partial<Record<NsType, number>> | undefined;

/** The host's namespaces: nori's own, read once (its threads that enter a pod's netns are native ones of their own; Node's never move). */
export function hostInodes(): Partial<Record<NsType, number>> {
  if (host) return host;
  const out: Partial<Record<NsType, number>> = {};
  for (const t of NS_TYPES) {
    const ino = nsInode('self', t);
    if (ino !== undefined) out[t] = ino;
  }
  return (host = out);
}

export function sharing(inode: number, type: NsType, pod: Partial<Record<NsType, number>>, host: Partial<Record<NsType, number>>): NsSharing {
  if (host[type] === inode) return 'host';
  if (pod[type] === inode) return 'pod';
  return 'own';
}

/** The pod's pinned namespaces (net, ipc, uts, pid when shared). */
export function podNamespaces(nsPaths: Partial<Record<string, string>>, host = hostInodes()): NamespaceEntry[] {
  const out: NamespaceEntry[] = [];
  for (const [type, path] of Object.entries(nsPaths)) {
    if (!path || !(NS_TYPES as readonly string[]).includes(type)) continue;
    const inode = pinnedInode(path);
    if (inode === undefined) continue;
    const t = type as NsType;
    out.push({ type: t, inode, sharedWith: host[t] === inode ? 'host' : 'pod', path });
  }
  return out.sort((a, b) => a.type.localeCompare(b.type));
}

/** Every namespace of a process, each judged against the pod's pinned ones and the host's. */
export function processNamespaces(pid: number, podInodes: Partial<Record<NsType, number>>, host = hostInodes()): NamespaceEntry[] {
  const out: NamespaceEntry[] = [];
  for (const t of NS_TYPES) {
    const inode = nsInode(pid, t);
    if (inode !== undefined) out.push({ type: t, inode, sharedWith: sharing(inode, t, podInodes, host) });
  }
  return out;
}

export function inodesOf(entries: readonly NamespaceEntry[]): Partial<Record<NsType, number>> {
  return Object.fromEntries(entries.map((e) => [e.type, e.inode]));
}
