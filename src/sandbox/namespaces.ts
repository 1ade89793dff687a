// Pinned namespace files and the pod init of a shared PID namespace.

import { promises as fs, statfsSync } from 'node:fs';
import { mkdirp } from '../util/fs';
import * as path from 'node:path';
import { MS_BIND } from '../sys/constants';
import type { Sys } from '../sys/types';
import { unpinNamespace } from '../sys/unpin';
import type { IdRange, UsernsSys } from '../sys/userns';
import type { NamespacePaths, SysctlList } from '../sys/types';
import { identify, isSameProcess } from '../proc/identity';

const NSFS_MAGIC = 0x6e736673;

/**
 * True when `file` is a live pin: a bind mount of a namespace (nsfs), not a leftover file.
 * Synchronous: start-up recovery checks every pin of every pod (1,000 at 250 pods) before nori
 * answers, and through the thread pool each promise cost more than the statfs itself.
 */
export function isPinned(file: string): boolean {
  try {
    return statfsSync(file).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/** Pins the PID namespace of `pid` on `target` (created empty, bind-mounted). */
export async function pinPidNamespace(sys: Sys, pid: number, target: string): Promise<void> {
  mkdirp(path.dirname(target), 0o711);
  await fs.writeFile(target, '', { mode: 0o444 });
  try {
    sys.mount(`/proc/${pid}/ns/pid`, target, null, MS_BIND);
  } catch (e) {
    await fs.rm(target, { force: true });
    throw e;
  }
}

/**
 * Whether `pid` is still the pod's init: its PID namespace is the one pinned on `pinned`. After a
 * restart (or a reboot) the pid may belong to some other process, which must not be killed.
 */
export async function isPodInit(pid: number, pinned: string): Promise<boolean> {
  return isSameProcess(pid, { pidNamespace: pinned });
}

/** Kills the pod init (and with it everything in its PID namespace) if it is still ours. */
export async function killPodInit(sys: Sys, pid: number, pinned: string, beforeKill?: (pid: number) => Promise<void>): Promise<void> {
  if (!(await isPodInit(pid, pinned))) return;
  await beforeKill?.(pid);
  try {
    sys.kill(pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
  // Wait until it has exited (a zombie is enough: it left its cgroups and namespaces; reaping is
  // its parent's business, and that is not nori). It sits in the pod's cgroup, so removing the
  // pod's cgroup dirs depends on this; on a loaded node the exit of a PID namespace's init (the
  // kernel kills and waits for every process in it) can take over a second.
  const until = Date.now() + 10_000;
  // Short waits first: the init of a PID namespace with nothing else in it exits within a
  // millisecond or two of SIGKILL, and StopPodSandbox waits for it.
  for (let delay = 1; (await isRunning(pid)) && Date.now() < until; delay = Math.min(delay * 2, 10)) {
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function isRunning(pid: number): Promise<boolean> {
  return identify(pid) !== undefined;
}

export async function unpinAll(sys: Sys, files: readonly string[]): Promise<void> {
  for (const f of files) await unpinNamespace(sys, f);
}

export interface PodNamespacesPlan {
  /** New net/ipc/uts namespaces and their pin files. */
  targets: NamespacePaths;
  /** The pod's own user namespace: its pin file and maps. */
  user?: { pin: string; uidMappings: IdRange[]; gidMappings: IdRange[] };
  hostname?: string;
  sysctls: SysctlList;
}

/**
 * Creates and pins the pod's namespaces; returns the pin files (for undo). With a user
 * namespace it comes FIRST and the others are made inside it, so it owns them: a namespace
 * belongs to the user namespace of the process that creates it, and the container's root can
 * only mount sysfs, mqueue and /proc for namespaces its user namespace owns. The hostname, lo
 * and sysctls are set in the new namespaces by the native helper in both cases; the shared PID
 * namespace (the pod init) is made later, inside the user namespace too (startPodInit joins it
 * first).
 */
export async function pinPodNamespaces(sys: Sys, userns: UsernsSys, plan: PodNamespacesPlan): Promise<string[]> {
  const files = Object.values(plan.targets).filter((f): f is string => f !== undefined);
  if (plan.user) files.push(plan.user.pin);
  for (const f of files) mkdirp(path.dirname(f), 0o711);
  if (plan.user) {
    await userns.pinUserNamespace({
      user: plan.user.pin,
      targets: plan.targets,
      uidMappings: plan.user.uidMappings,
      gidMappings: plan.user.gidMappings,
      hostname: plan.hostname,
      sysctls: plan.sysctls,
    });
    return files;
  }
  if (files.length === 0) return [];
  await sys.pinNamespaces({ targets: plan.targets, hostname: plan.hostname, sysctls: plan.sysctls });
  return files;
}
