// Starts a pod's init (the reaper of its shared PID namespace) inside the pod's cgroups.
//
// Moving another process into a cgroup takes the kernel's global threadgroup lock for writing,
// which waits out an RCU grace period: 7-16 ms on this machine for v1's nine hierarchies, most
// of RunPodSandbox. A thread that moves itself through a v1 `tasks` file skips that lock, so on
// v1 the native starter moves itself into the prepared leaves and the init is born there. A
// cgroup2 hierarchy (all of v2, the "unified" one of a hybrid layout) has no such file: the init
// is moved there afterwards, off the call's path (the caller awaits `placed` before the pod is
// READY). The systemd driver puts the init in a transient scope, as before.

import type { CgroupManager } from '../cgroups/manager';
import { POD_INIT_CGROUP } from '../cgroups/names';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { isSysError } from '../sys/errors';
import type { NamespacePaths, Sys } from '../sys/types';
import type { StoredRecord } from './record';

export interface StartedPodInit {
  pid: number;
  /** Settles once the init sits in all of the pod's cgroups (never rejects: a failure is logged). */
  placed: Promise<void>;
}

export async function startPodInitInCgroups(
  sys: Sys,
  cgroups: CgroupManager,
  rec: StoredRecord,
  join: NamespacePaths,
  log: Logger,
  step: (name: string) => void = () => undefined,
): Promise<StartedPodInit> {
  const stays = (e: unknown) => log.warn({ sandbox: rec.id, err: errorMessage(e) }, "the pod init stays in nori's cgroup");
  if (cgroups.driver === 'systemd') {
    const pid = await sys.startPodInit({ join });
    const placed = cgroups.placeProcess(rec.cgroupParent, POD_INIT_CGROUP, rec.id, pid).then((made) => void rec.internals.cgroupCreated.push(...made), stays);
    return { pid, placed };
  }
  let leaf: ReturnType<CgroupManager['prepareLeaf']> | undefined;
  try {
    leaf = cgroups.prepareLeaf(rec.cgroupParent, POD_INIT_CGROUP);
  } catch (e) {
    stays(e);
  }
  if (leaf) rec.internals.cgroupCreated.push(...leaf.created);
  step('initLeaf');
  let pid: number;
  try {
    pid = await sys.startPodInit({ join, cgroupTasks: leaf?.v1Tasks });
  } catch (e) {
    // A cgroup the kernel would not let the starter into must not fail the pod (it did not before).
    if (!leaf?.v1Tasks.length || !isSysError(e) || e.step !== 'cgroup') throw e;
    stays(e);
    return { pid: await sys.startPodInit({ join }), placed: Promise.resolve() };
  }
  const placed = leaf?.v2Leaves.length ? cgroups.movePid(leaf.v2Leaves, pid).catch(stays) : Promise.resolve();
  return { pid, placed };
}
