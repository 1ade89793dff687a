// A cgroup as the kernel has it: each hierarchy's path (from /proc/PID/cgroup for a process, or
// the configured parent for a pod), the directory under its mount, and the current limit and
// usage files there, read as they are (strings: "max", "-1" and numbers stay the kernel's).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toCgroupfsPath } from '../cgroups';
import { parseCgroupMounts, type CgroupMounts } from '../doctor/cgroup_layout';
import { readMountinfo } from '../proc/mountinfo';
import { readSmallFiles } from '../sys/inspect_reads';

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

/**
 * Limit and usage files worth showing. A v1 hierarchy has its controllers' v1 files; a cgroup2
 * directory has cgroup.controllers and the files of the controllers it lists there (a
 * controller's interface files exist exactly where the parent enabled it).
 */
const V1_FILES: Record<string, string[]> = {
  memory: ['memory.limit_in_bytes', 'memory.usage_in_bytes', 'memory.max_usage_in_bytes'],
  cpu: ['cpu.cfs_quota_us', 'cpu.cfs_period_us', 'cpu.shares'],
  cpuacct: ['cpuacct.usage'],
  cpuset: ['cpuset.cpus', 'cpuset.mems'],
  pids: ['pids.max', 'pids.current'],
};
const V2_FILES = ['cgroup.controllers', 'memory.max', 'memory.current', 'cpu.max', 'cpu.weight', 'pids.max', 'pids.current', 'cpuset.cpus', 'hugetlb.2MB.max'];

/**
 * Where a cgroup is and which of the files above it has: what cannot change while the cgroup
 * exists, found once per pod or container (model.ts). Only the files' contents are read on each
 * call, through files kept open (cgroup_files.ts).
 */
export interface CgroupShape {
  configured: string;
  hierarchies: Array<Omit<CgroupHierarchy, 'files'> & { fileNames: string[] }>;
}

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

/** Each dir's named files, read in one native call; a file that cannot be read is left out. */
function readFilesIn(wanted: ReadonlyArray<{ dir: string | undefined; names: readonly string[] }>): Array<Record<string, string>> {
  const paths: string[] = [];
  for (const w of wanted) if (w.dir) for (const n of w.names) paths.push(join(w.dir, n));
  const texts = paths.length ? readSmallFiles(paths) : [];
  let i = 0;
  return wanted.map((w) => {
    const files: Record<string, string> = {};
    if (!w.dir) return files;
    for (const n of w.names) {
      const t = texts[i++];
      if (t !== null && t !== undefined) files[n] = t.trim();
    }
    return files;
  });
}

type Found = { shape: CgroupShape['hierarchies'][number]; view: CgroupHierarchy };

/**
 * Finds hierarchies' directories and files, reading them as it goes (the first view comes with
 * the shape), in two native calls for all of them. With `onlyExisting`, a hierarchy where the
 * directory is not there is left out: one whose files could be read exists; one with no files
 * to read is checked on its own.
 */
function discover(mounts: CgroupMounts, hs: ReadonlyArray<{ id: number; controllers: string[]; path: string }>, onlyExisting: boolean): Found[] {
  const dirs = hs.map((h) => {
    const mount = mountOf(mounts, h.controllers);
    return mount ? join(mount, h.path) : undefined;
  });
  const first = readFilesIn(hs.map((h, i) => ({
    dir: dirs[i], names: h.controllers.length > 0 ? h.controllers.flatMap((c) => V1_FILES[c] ?? []) : ['cgroup.controllers'],
  })));
  // cgroup2: the files of the controllers this cgroup has
  const v2 = readFilesIn(hs.map((h, i) => {
    const enabled = h.controllers.length === 0 ? first[i]!['cgroup.controllers'] : undefined;
    const on = new Set(enabled ? enabled.split(' ') : []);
    return { dir: enabled === undefined ? undefined : dirs[i], names: V2_FILES.slice(1).filter((n) => on.has(n.slice(0, n.indexOf('.')))) };
  }));
  const out: Found[] = [];
  hs.forEach((h, i) => {
    const dir = dirs[i];
    const files = { ...first[i]!, ...v2[i]! };
    const asked = h.controllers.length === 0 || h.controllers.some((c) => V1_FILES[c]);
    if (onlyExisting && (!dir || (asked ? Object.keys(files).length === 0 : !existsSync(dir)))) return;
    const base = { id: h.id, controllers: h.controllers, path: h.path, ...(dir ? { dir } : {}) };
    out.push({ shape: { ...base, fileNames: Object.keys(files) }, view: { ...base, files } });
  });
  return out;
}

let layout: CgroupMounts | undefined;

/**
 * The cgroup hierarchies and where they are mounted, parsed once: they are mounted at boot,
 * before nori starts, and the mount table is the costliest file to read (every mount on the
 * node, pods' overlays included).
 */
export function cgroupLayout(): CgroupMounts {
  return (layout ??= parseCgroupMounts(readMountinfo()));
}

/** A process' cgroups, with the first read of their files; only hierarchies with controllers or cgroup2 (named ones like name=systemd dropped). */
export function discoverProcessCgroup(pid: number, configured: string, mounts = cgroupLayout()): { shape: CgroupShape; view: CgroupView } | undefined {
  const text = readTrim(`/proc/${pid}/cgroup`);
  if (text === undefined) return undefined;
  const entries = parseProcCgroup(text).filter((h) => h.id === 0 || (h.controllers.length > 0 && !h.controllers[0]!.startsWith('name=')));
  const found = discover(mounts, entries, false);
  return { shape: { configured, hierarchies: found.map((f) => f.shape) }, view: { configured, hierarchies: found.map((f) => f.view) } };
}

/** A pod's cgroup parent in every mounted hierarchy where it exists (a pod has no process of its own), with the first read of its files. */
export function discoverPathCgroup(configured: string, mounts = cgroupLayout()): { shape: CgroupShape; view: CgroupView } {
  const path = toCgroupfsPath(configured);
  const hs: Array<{ id: number; controllers: string[]; path: string }> = [];
  const seen = new Set<string>();
  for (const [controller, mount] of Object.entries(mounts.v1)) {
    if (seen.has(mount)) continue;
    seen.add(mount);
    const controllers = Object.entries(mounts.v1).filter(([, m]) => m === mount).map(([c]) => c);
    hs.push({ id: -1, controllers: controllers.length ? controllers : [controller], path });
  }
  if (mounts.v2Mount) hs.push({ id: 0, controllers: [], path });
  const found = discover(mounts, hs, true);
  return { shape: { configured, hierarchies: found.map((f) => f.shape) }, view: { configured, hierarchies: found.map((f) => f.view) } };
}

export function processCgroup(pid: number, configured: string, mounts = cgroupLayout()): CgroupView | undefined {
  return discoverProcessCgroup(pid, configured, mounts)?.view;
}

export function pathCgroup(configured: string, mounts = cgroupLayout()): CgroupView {
  return discoverPathCgroup(configured, mounts).view;
}

/**
 * The directory whose cgroup.procs lists the processes: the pids hierarchy's (its directories
 * hold the fewest files, and the walk below lists each one), else memory's, else cgroup2's.
 */
export function procsDirOf(shape: CgroupShape | CgroupView): string | undefined {
  const hs = shape.hierarchies;
  return (hs.find((h) => h.controllers.includes('pids')) ?? hs.find((h) => h.controllers.includes('memory') || h.id === 0))?.dir;
}

/** Pids in a cgroup directory and below it: each level's cgroup.procs files read in one native call. */
export function pidsUnder(dir: string): number[] {
  const out: number[] = [];
  for (let level = [dir]; level.length > 0; ) {
    const texts = readSmallFiles(level.map((d) => join(d, 'cgroup.procs')));
    const next: string[] = [];
    level.forEach((d, i) => {
      const procs = texts[i];
      if (procs === null || procs === undefined) return; // gone meanwhile: neither it nor its children count
      for (const p of procs.split('\n')) if (p) out.push(Number(p));
      try {
        for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) next.push(join(d, e.name));
      } catch {
        // removed meanwhile
      }
    });
    level = next;
  }
  return out.sort((a, b) => a - b);
}
