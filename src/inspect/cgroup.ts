// A cgroup as the kernel has it: each hierarchy's path (from /proc/PID/cgroup for a process, or
// the configured parent for a pod), the directory under its mount, and the current limit and
// usage files there, read as they are (strings: "max", "-1" and numbers stay the kernel's).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toCgroupfsPath } from '../cgroups';
import { parseCgroupMounts, type CgroupMounts } from '../doctor/cgroup_layout';

export interface CgroupHierarchy {
  /** Hierarchy id from /proc/PID/cgroup (0 is cgroup2); -1 for a pod's v1 hierarchy, found by path (a pod has no process of its own to read). */
  id: number;
  /** Controllers bound to it ("" entries dropped); [] for cgroup2. */
  controllers: string[];
  /** Path inside the hierarchy. */
  path: string;
  /** Where that is on this host, when the hierarchy is mounted. */
  dir?: string;
  /** Limit and usage files present there: name → content (trimmed). */
  files: Record<string, string>;
}

export interface CgroupView {
  /** What nori configured (the pod's cgroup parent, or the container's cgroupsPath). */
  configured: string;
  hierarchies: CgroupHierarchy[];
}

/** Limit and usage files worth showing, by the controller that owns them (v1 and v2 names). */
const FILES: Record<string, string[]> = {
  memory: ['memory.limit_in_bytes', 'memory.usage_in_bytes', 'memory.max_usage_in_bytes', 'memory.max', 'memory.current', 'memory.peak', 'memory.swap.max'],
  cpu: ['cpu.cfs_quota_us', 'cpu.cfs_period_us', 'cpu.shares', 'cpu.max', 'cpu.weight'],
  cpuacct: ['cpuacct.usage'],
  cpuset: ['cpuset.cpus', 'cpuset.mems'],
  pids: ['pids.max', 'pids.current'],
  // cgroup2 lists its own controllers in cgroup.controllers; its files are read when present.
  '': ['cgroup.controllers', 'memory.max', 'memory.current', 'cpu.max', 'cpu.weight', 'pids.max', 'pids.current', 'cpuset.cpus', 'hugetlb.2MB.max'],
};

export function parseProcCgroup(text: string): Array<{ id: number; controllers: string[]; path: string }> {
  const out: Array<{ id: number; controllers: string[]; path: string }> = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    out.push({ id: Number(m[1]), controllers: m[2] === '' ? [] : m[2]!.split(','), path: m[3]! });
  }
  return out;
}

function readTrim(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function mountOf(mounts: CgroupMounts, controllers: string[]): string | undefined {
  if (controllers.length === 0) return mounts.v2Mount;
  for (const c of controllers) if (mounts.v1[c]) return mounts.v1[c];
  return undefined;
}

function hierarchy(mounts: CgroupMounts, h: { id: number; controllers: string[]; path: string }): CgroupHierarchy {
  const mount = mountOf(mounts, h.controllers);
  const dir = mount ? join(mount, h.path) : undefined;
  const files: Record<string, string> = {};
  if (dir) {
    const names = h.controllers.length === 0 ? FILES['']! : h.controllers.flatMap((c) => FILES[c] ?? []);
    for (const n of names) {
      const v = readTrim(join(dir, n));
      if (v !== undefined) files[n] = v;
    }
  }
  return { id: h.id, controllers: h.controllers, path: h.path, ...(dir ? { dir } : {}), files };
}

function currentMounts(): CgroupMounts {
  return parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** A process' cgroups; only hierarchies with controllers or cgroup2 (named ones like name=systemd dropped). */
export function processCgroup(pid: number, configured: string, mounts = currentMounts()): CgroupView | undefined {
  const text = readTrim(`/proc/${pid}/cgroup`);
  if (text === undefined) return undefined;
  const entries = parseProcCgroup(text).filter((h) => h.id === 0 || (h.controllers.length > 0 && !h.controllers[0]!.startsWith('name=')));
  return { configured, hierarchies: entries.map((h) => hierarchy(mounts, h)) };
}

/** A pod's cgroup parent in every mounted hierarchy where it exists (a pod has no process of its own). */
export function pathCgroup(configured: string, mounts = currentMounts()): CgroupView {
  const path = toCgroupfsPath(configured);
  const hierarchies: CgroupHierarchy[] = [];
  const seen = new Set<string>();
  for (const [controller, mount] of Object.entries(mounts.v1)) {
    if (seen.has(mount)) continue;
    seen.add(mount);
    const controllers = Object.entries(mounts.v1).filter(([, m]) => m === mount).map(([c]) => c);
    if (readTrim(join(mount, path, 'cgroup.procs')) === undefined) continue;
    hierarchies.push(hierarchy(mounts, { id: -1, controllers: controllers.length ? controllers : [controller], path }));
  }
  if (mounts.v2Mount && readTrim(join(mounts.v2Mount, path, 'cgroup.procs')) !== undefined) {
    hierarchies.push(hierarchy(mounts, { id: 0, controllers: [], path }));
  }
  return { configured, hierarchies };
}

/** Pids in a cgroup directory and below it. */
export function pidsUnder(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    const procs = readTrim(join(d, 'cgroup.procs'));
    if (procs === undefined) return;
    for (const p of procs.split('\n')) if (p) out.push(Number(p));
    let kids: string[] = [];
    try {
      kids = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      kids = [];
    }
    for (const k of kids) walk(join(d, k));
  };
  walk(dir);
  return out.sort((a, b) => a - b);
}
