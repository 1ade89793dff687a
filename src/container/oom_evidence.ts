// Whether a container that exited was OOM-killed, from what the kernel and conmon left.
//
// The container's own cgroup says so (v1 memory.oom_control, v2 memory.events: oom_kill) as long
// as it exists. Under the systemd driver on cgroup v2 it often does not: the container's scope
// belongs to systemd, which stops it and removes its cgroup as soon as its last process is gone,
// before nori handles the exit file and before conmon's own check after the exit (conmon's
// persist/oom is then never written). The kernel's notice of the kill on memory.events can come
// too late to help as well: kernfs delivers it from a work item, and cgroup file notifications
// are rate-limited to one per 10 ms, while the kill's "max" events came first.
//
// What outlives the scope is its parent, the pod's slice, whose v2 memory.events counts the
// OOM kills of every cgroup below it (unless cgroup2 is mounted with memory_localevents, where
// the parent's own count stays 0 and this evidence simply never shows). So when the scope is
// gone, a container that died of SIGKILL while the pod's count rose past the count taken before
// it started is taken as OOM-killed. A sibling OOM-killed at the same time as this container
// was SIGKILLed for some other reason would be misread; the runtime has no better witness left.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CgroupReader } from './cgroup_stats';

/** The pod cgroup's OOM-kill count before the container started, in the bundle (survives restarts). */
const POD_OOM_BASELINE_FILE = 'pod-oom-kills';
/** 128 + SIGKILL: how conmon records a process the kernel's OOM killer ended. */
const KILLED_BY_SIGKILL = 137;

export interface OomSubject {
  bundle: string;
  /** The container's cgroup, relative to the cgroupfs root ('' when nori does not know it). */
  cgroupPath: string;
}

export class OomEvidence {
  /**
   * scopesVanish: the container cgroups are systemd's (systemd driver) on cgroup v2, so they
   * may be gone by the time the exit is handled.
   */
  constructor(private readonly cgroups: CgroupReader, private readonly scopesVanish: boolean) {}

  /** After create, before start: the pod's count that a later kill must exceed. */
  noteBaseline(c: OomSubject): void {
    if (!this.scopesVanish || !c.cgroupPath) return;
    const count = this.cgroups.oomKillCount(dirname(c.cgroupPath));
    if (count !== undefined) writeFileSync(join(c.bundle, POD_OOM_BASELINE_FILE), String(count));
  }

  oomKilled(c: OomSubject, exitCode: number): boolean {
    const own = c.cgroupPath ? this.cgroups.oomKillCount(c.cgroupPath) : undefined;
    if (own !== undefined && own > 0) return true;
    // conmon saw it on memory.events while the container ran.
    if (existsSync(join(c.bundle, 'persist', 'oom'))) return true;
    if (own !== undefined || !this.scopesVanish || !c.cgroupPath || exitCode !== KILLED_BY_SIGKILL) return false;
    const baseline = readCount(join(c.bundle, POD_OOM_BASELINE_FILE));
    const now = this.cgroups.oomKillCount(dirname(c.cgroupPath));
    return baseline !== undefined && now !== undefined && now > baseline;
  }
}

function readCount(file: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
