// Pod cgroup parents on either cgroup layout. v1: one hierarchy per mounted controller dir under
// the root (cpu, memory, …, plus a hybrid "unified" cgroup2 and named hierarchies), the parent
// created in each; v2: one tree, controllers enabled in each new level's parent. The root is
// injectable so both layouts are tested on a temp dir.
//
// Only directories this manager created are removed, and only while empty: kubelet (or another
// pod) may own the rest of the path.
//
// Creating and moving into cgroups uses synchronous calls: each mkdir, cpuset copy or
// cgroup.procs write costs the kernel tens of microseconds, less than one round trip through
// libuv's thread pool, and a pod on v1 needs about thirty of them (nine hierarchies). As promise
// chains they took 5-20 ms of every RunPodSandbox; in line they block the loop for well under one.
//
// With the systemd driver systemd owns the tree: a pod parent is a slice, made (when kubelet has
// not made it) and removed through systemd, and a process nori starts for the pod goes into a
// transient scope in it. What was made that way is recorded as "systemd:<unit>".

import { mkdirSync, promises as fs, readdirSync, readFileSync, rmdirSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../errors';
import { cgroupfsComponents, defaultPodParent, expandSlice, isSystemdSlice, POD_INIT_CGROUP, toCgroupfsPath } from './names';
import { SystemdUnits } from './systemd';

export type CgroupLayout = 'v1' | 'v2';

export interface CgroupManagerOptions {
  /** Default /sys/fs/cgroup. */
  root?: string;
  /** Forced layout (tests); detected from the root otherwise. */
  layout?: CgroupLayout;
  /** cgroupfs (default): nori writes the tree itself; systemd: through systemd units. */
  driver?: 'cgroupfs' | 'systemd';
  /** The systemd client (tests inject one); made on first use otherwise. */
  systemd?: SystemdUnits;
  /** Whether a directory under a v1 root is a mounted hierarchy; by statfs, tests pass plain dirs. */
  isHierarchy?: (dir: string) => boolean;
}

/** Marks a createParent/placeProcess result that is a systemd unit, not a directory. */
const UNIT_PREFIX = 'systemd:';

/** Directories a createParent made, deepest last; what removeParent may delete. */
export type CreatedDirs = string[];

export class CgroupManager {
  readonly root: string;
  readonly layout: CgroupLayout;
  readonly driver: 'cgroupfs' | 'systemd';
  private systemdUnits?: SystemdUnits;
  private readonly isHierarchy: (dir: string) => boolean;

  constructor(opts: CgroupManagerOptions = {}) {
    this.root = opts.root ?? '/sys/fs/cgroup';
    this.layout = opts.layout ?? detectLayout(this.root);
    this.driver = opts.driver ?? 'cgroupfs';
    this.systemdUnits = opts.systemd;
    this.isHierarchy = opts.isHierarchy ?? (opts.root === undefined ? isCgroupMount : () => true);
  }

  get systemd(): SystemdUnits {
    this.systemdUnits ??= new SystemdUnits({ root: this.root });
    return this.systemdUnits;
  }

  /** The hierarchy roots a pod parent is created in. */
  async hierarchies(): Promise<string[]> {
    return this.hierarchyDirs();
  }

  private hierarchyDirs(): string[] {
    if (this.layout === 'v2') return [this.root];
    const out: string[] = [];
    for (const e of readdirSync(this.root, { withFileTypes: true })) {
      // co-mounted controllers show up as symlinks (cpu → cpu,cpuacct): the target is listed too.
      // A directory that is no cgroup mount (a stray mkdir in the root's tmpfs) is not one: pods
      // "placed" there were left in nori's own cgroup of that controller.
      const dir = path.join(this.root, e.name);
      if (e.isDirectory() && this.isHierarchy(dir)) out.push(dir);
    }
    return out.sort();
  }

  /** Creates `parent` (cgroupfs syntax) in every hierarchy; returns what did not exist before. */
  async createParent(parent: string): Promise<CreatedDirs> {
    const parts = cgroupfsComponents(parent);
    if (this.driver === 'systemd') return this.createSlice(parts);
    const created: CreatedDirs = [];
    try {
      for (const h of this.hierarchyDirs()) this.createIn(h, parts, created);
    } catch (e) {
      await this.removeDirs(created);
      throw e;
    }
    return created;
  }

  private createIn(h: string, parts: string[], created: CreatedDirs): void {
    // Another pod's removal may rmdir a shared ancestor between our steps: walk again.
    for (let attempt = 0; ; attempt++) {
      try {
        let dir = h;
        for (const part of parts) {
          const up = dir;
          dir = path.join(dir, part);
          const made = mkdirIfMissing(dir);
          if (made) created.push(dir);
          // A level another pod is creating right now may not have its cpuset filled yet: a
          // child copied from it would accept no task. Filling is idempotent, so check each level.
          if (made || isCpuset(h)) this.initDir(up, dir, h, made);
        }
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw e;
      }
    }
  }

  /** The pod's slice, when kubelet has not made it: systemd makes its parents too. */
  private async createSlice(parts: string[]): Promise<CreatedDirs> {
    const slice = parts[parts.length - 1] ?? '';
    if (!isSystemdSlice(slice)) {
      throw new InvalidArgumentError(`with the systemd cgroup driver the cgroup parent must be a systemd slice (e.g. kubepods-pod1.slice), got "/${parts.join('/')}"`);
    }
    if (await exists(this.systemd.sliceDir(slice))) return [];
    // Parent slices that do not exist yet appear with it (implicitly): recorded, outermost first,
    // so removeDirs stops them too once they are empty.
    const created: CreatedDirs = [];
    const levels = expandSlice(slice).split('/').filter(Boolean);
    for (const level of levels.slice(0, -1)) {
      if (!(await exists(this.systemd.sliceDir(level)))) created.push(`${UNIT_PREFIX}${level}`);
    }
    await this.systemd.startSlice(slice, `nori pod slice ${slice}`);
    return [...created, `${UNIT_PREFIX}${slice}`];
  }

  /**
   * The cgroups of a pod with the default parent that lost its store row (the orphan sweep):
   * its pod-init leaf or scope, its own level, and the prefix level when it was the last.
   */
  async removeDefaultPodCgroups(prefix: string, podId: string): Promise<void> {
    const parent = toCgroupfsPath(defaultPodParent(this.driver, prefix, podId));
    if (this.driver === 'systemd') {
      const slice = parent.split('/').pop() ?? '';
      await this.removeDirs([`${UNIT_PREFIX}${slice}`, `${UNIT_PREFIX}${slice}/${POD_INIT_CGROUP}-${podId}.scope`]);
    } else {
      await this.removeDirs([...(await this.paths(parent)), ...(await this.paths(`${parent}/${POD_INIT_CGROUP}`))]);
    }
    await this.removePrefixIfEmpty(prefix, parent);
  }

  /**
   * After a pod with the default parent is gone: the daemon's own prefix level (`/<prefix>` or
   * `<prefix>.slice`), shared by its pods, goes with the last of them.
   */
  async removePrefixIfEmpty(prefix: string, podParent: string): Promise<void> {
    if (this.driver === 'systemd') {
      const slice = `${prefix.replace(/-/g, '_')}.slice`;
      if (podParent.startsWith(`/${slice}/`)) await this.removeDirs([`${UNIT_PREFIX}${slice}`]);
      return;
    }
    if (podParent.startsWith(`/${prefix}/`)) await this.removeDirs(await this.paths(`/${prefix}`));
  }

  /**
   * Makes the leaf `<parent>/<name>` in every hierarchy for a process nori is about to start
   * (cgroupfs driver only). Returns what it made, the v1 `tasks` files the starter writes "0"
   * to so the process is born there (a self-move skips the kernel's global lock), and the
   * leaves of cgroup2 hierarchies, which have no such file: the process is moved into those
   * afterwards with movePid.
   */
  prepareLeaf(parent: string, name: string): { created: CreatedDirs; v1Tasks: string[]; v2Leaves: string[] } {
    const parts = cgroupfsComponents(parent);
    const created: CreatedDirs = [];
    const v1Tasks: string[] = [];
    const v2Leaves: string[] = [];
    try {
      for (const h of this.hierarchyDirs()) {
        const up = path.join(h, ...parts);
        const dir = path.join(up, name);
        const made = mkdirIfMissing(dir);
        if (made) created.push(dir);
        if (made || isCpuset(h)) this.initDir(up, dir, h, made);
        if (isCgroup2(h)) v2Leaves.push(dir);
        else v1Tasks.push(path.join(dir, 'tasks'));
      }
    } catch (e) {
      for (const dir of [...created].reverse()) {
        try {
          rmdirSync(dir);
        } catch {
          // best effort: a cgroup made a moment ago and still empty
        }
      }
      throw e;
    }
    return { created, v1Tasks, v2Leaves };
  }

  /** Moves process `pid` into each of `dirs` (through cgroup.procs, off the event loop). */
  async movePid(dirs: string[], pid: number): Promise<void> {
    for (const dir of dirs) await fs.writeFile(path.join(dir, 'cgroup.procs'), String(pid), { flag: 'r+' });
  }

  /**
   * Puts a process nori started for a pod (its init) into the pod's cgroup: a leaf
   * `<parent>/<name>` (cgroup v2 lets no process sit in a cgroup that hands controllers down),
   * or with the systemd driver the scope `<name>-<podId>.scope` in the pod slice. Returns what
   * it made, for removeDirs.
   */
  async placeProcess(parent: string, name: string, podId: string, pid: number): Promise<CreatedDirs> {
    const parts = cgroupfsComponents(parent);
    if (this.driver === 'systemd') {
      const scope = `${name}-${podId}.scope`;
      const slice = parts[parts.length - 1] ?? '';
      await this.systemd.startScope(scope, slice, pid, `nori ${name} of pod ${podId}`);
      return [`${UNIT_PREFIX}${slice}/${scope}`];
    }
    const leaf = this.prepareLeaf(parent, name);
    const placedIn: string[] = [];
    try {
      for (const dir of [...leaf.v1Tasks.map((t) => path.dirname(t)), ...leaf.v2Leaves]) {
        // r+: cgroupfs always has the file; anything else is no cgroup to move into.
        writeFileSync(path.join(dir, 'cgroup.procs'), String(pid), { flag: 'r+' });
        placedIn.push(path.dirname(dir));
      }
    } catch (e) {
      // Back to the pod's own level where it was moved already, or the dirs made stay busy.
      for (const up of placedIn) await fs.writeFile(path.join(up, 'cgroup.procs'), String(pid), { flag: 'r+' }).catch(() => undefined);
      await this.removeDirs(leaf.created).catch(() => undefined);
      throw e;
    }
    return leaf.created;
  }

  /**
   * Moves a process nori placed (the pod init) to the root cgroup of each hierarchy just before
   * nori kills it: on cgroup v1 its zombie keeps the pod's cgroup busy until init reaps it, and a
   * node's init may take seconds (RemovePodSandbox then waited out removeDirs' budget). The
   * systemd driver stops the process's scope instead.
   */
  async evictToRoot(pid: number): Promise<void> {
    if (this.driver === 'systemd') return;
    for (const h of await this.hierarchies()) {
      await fs.writeFile(path.join(h, 'cgroup.procs'), String(pid), { flag: 'r+' }).catch(() => undefined);
    }
  }

  /** Removes the dirs createParent made, deepest first; a dir still in use stays. */
  async removeDirs(created: CreatedDirs): Promise<string[]> {
    const kept: string[] = [];
    // One short budget for the whole call: a cgroup that holds a live process stays busy.
    const settleUntil = Date.now() + 2000;
    for (const dir of [...created].reverse()) {
      if (dir.startsWith(UNIT_PREFIX)) {
        // "<slice>" or "<slice>/<scope>"
        const [slice = '', scope] = dir.slice(UNIT_PREFIX.length).split('/');
        const unit = scope ?? slice;
        const cgroupDir = scope ? path.join(this.systemd.sliceDir(slice), scope) : this.systemd.sliceDir(slice);
        // Like rmdir, only while empty: stopping a slice would stop everything in it.
        if (await hasChildCgroups(cgroupDir)) kept.push(dir);
        else await this.systemd.stop(unit, cgroupDir).catch(() => kept.push(dir));
        continue;
      }
      try {
        await rmdirSettling(dir, settleUntil);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue;
        if (code === 'EBUSY' || code === 'ENOTEMPTY') kept.push(dir);
        else throw e;
      }
    }
    return kept;
  }

  /** Paths of `parent` in each hierarchy (for checks and stats). */
  async paths(parent: string): Promise<string[]> {
    const parts = cgroupfsComponents(parent);
    return (await this.hierarchies()).map((h) => path.join(h, ...parts));
  }

  private initDir(up: string, dir: string, hierarchy: string, made: boolean): void {
    if (this.layout === 'v2') {
      // Let the new level hand controllers down, so containers below it can be limited.
      const avail = readOr(path.join(up, 'cgroup.controllers')).split(/\s+/).filter(Boolean);
      if (avail.length > 0) {
        try {
          writeFileSync(path.join(up, 'cgroup.subtree_control'), avail.map((c) => `+${c}`).join(' '));
        } catch {
          // a controller the level cannot hand down (a process sits in it): containers go unlimited there
        }
      }
      return;
    }
    if (isCpuset(hierarchy)) {
      // A v1 cpuset cgroup with empty cpus/mems accepts no task: inherit the parent's.
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        const mine = readOr(path.join(dir, f)).trim();
        const theirs = readOr(path.join(up, f)).trim();
        if (mine === '' && theirs !== '') writeFileSync(path.join(dir, f), theirs);
      }
      // Every cgroup made below a level nori made (the pod's, its init's, runc's per container)
      // then gets cpus and mems from the kernel at mkdir. Filling them by a write rebuilds the
      // scheduler domains each time: 150-200 us per cgroup here. The flag is inherited at mkdir;
      // levels others made (kubelet's) are left as they are.
      if (made) {
        try {
          writeFileSync(path.join(dir, 'cgroup.clone_children'), '1', { flag: 'r+' });
        } catch {
          // without it the levels below are filled by the writes above, as before
        }
      }
    }
  }
}

/** A cgroup2 hierarchy: the whole tree on v2, the "unified" one of a hybrid layout. */
function isCgroup2(hierarchy: string): boolean {
  return detectLayout(hierarchy) === 'v2';
}

/** A v1 cpuset hierarchy (co-mounted names like cpu,cpuacct never include cpuset here). */
function isCpuset(hierarchy: string): boolean {
  return path.basename(hierarchy) === 'cpuset';
}

const CGROUP_SUPER_MAGIC = 0x27e0eb;
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** A cgroup v1 or v2 mount, by its filesystem's magic number (statfs(2)). */
export function isCgroupMount(dir: string): boolean {
  try {
    const type = statfsSync(dir).type;
    return type === CGROUP_SUPER_MAGIC || type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

export function detectLayout(root: string): CgroupLayout {
  try {
    statSync(path.join(root, 'cgroup.controllers'));
    return 'v2';
  } catch {
    return 'v1';
  }
}

/**
 * rmdir, retried for a moment while the cgroup is busy: a process nori just killed (the pod
 * init) leaves its cgroup only once it is reaped.
 */
async function rmdirSettling(dir: string, until: number): Promise<void> {
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    try {
      return await fs.rmdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || Date.now() + delay > until) throw e;
      // Child cgroups (other pods under the shared prefix level) are no process about to leave:
      // in use now, and waiting would only add the whole budget to RemovePodSandbox.
      if (await hasChildCgroups(dir)) throw e;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

async function hasChildCgroups(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir, { withFileTypes: true })).some((e) => e.isDirectory());
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}

/** True if it made the dir. */
function mkdirIfMissing(dir: string): boolean {
  try {
    mkdirSync(dir, { mode: 0o755 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

function readOr(file: string, fallback = ''): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}
