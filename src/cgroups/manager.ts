// Pod cgroup parents on either cgroup layout. v1: one hierarchy per mounted controller dir under
// the root (cpu, memory, …, plus a hybrid "unified" cgroup2 and named hierarchies), the parent
// created in each; v2: one tree, controllers enabled in each new level's parent. The root is
// injectable so both layouts are tested on a temp dir.
//
// Only directories this manager created are removed, and only while empty: kubelet (or another
// pod) may own the rest of the path.

import { promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';
import { cgroupfsComponents } from './names';

export type CgroupLayout = 'v1' | 'v2';

export interface CgroupManagerOptions {
  /** Default /sys/fs/cgroup. */
  root?: string;
  /** Forced layout (tests); detected from the root otherwise. */
  layout?: CgroupLayout;
}

/** Directories a createParent made, deepest last; what removeParent may delete. */
export type CreatedDirs = string[];

export class CgroupManager {
  readonly root: string;
  readonly layout: CgroupLayout;

  constructor(opts: CgroupManagerOptions = {}) {
    this.root = opts.root ?? '/sys/fs/cgroup';
    this.layout = opts.layout ?? detectLayout(this.root);
  }

  /** The hierarchy roots a pod parent is created in. */
  async hierarchies(): Promise<string[]> {
    if (this.layout === 'v2') return [this.root];
    const out: string[] = [];
    for (const e of await fs.readdir(this.root, { withFileTypes: true })) {
      // co-mounted controllers show up as symlinks (cpu → cpu,cpuacct): the target is listed too
      if (e.isDirectory()) out.push(path.join(this.root, e.name));
    }
    return out.sort();
  }

  /** Creates `parent` (cgroupfs syntax) in every hierarchy; returns what did not exist before. */
  async createParent(parent: string): Promise<CreatedDirs> {
    const parts = cgroupfsComponents(parent);
    // Hierarchies are independent: make them in parallel (mkdir on cgroupfs waits on a kernel
    // lock that every runc on the node takes too).
    const results = await Promise.allSettled((await this.hierarchies()).map((h) => this.createIn(h, parts)));
    const created = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : r.reason.created as string[]));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.removeDirs(created);
      throw failed.reason.error;
    }
    return created;
  }

  private async createIn(h: string, parts: string[]): Promise<string[]> {
    const created: string[] = [];
    // Another pod's removal may rmdir a shared ancestor between our steps: walk again.
    for (let attempt = 0; ; attempt++) {
      try {
        let dir = h;
        for (const part of parts) {
          const up = dir;
          dir = path.join(dir, part);
          if (await mkdirIfMissing(dir)) {
            created.push(dir);
            await this.initDir(up, dir, h);
          }
        }
        return created;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw { error: e, created };
      }
    }
  }

  /** Removes the dirs createParent made, deepest first; a dir still in use stays. */
  async removeDirs(created: CreatedDirs): Promise<string[]> {
    const kept: string[] = [];
    for (const dir of [...created].reverse()) {
      try {
        await fs.rmdir(dir);
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

  private async initDir(up: string, dir: string, hierarchy: string): Promise<void> {
    if (this.layout === 'v2') {
      // Let the new level hand controllers down, so containers below it can be limited.
      const avail = (await readOr(path.join(up, 'cgroup.controllers'))).split(/\s+/).filter(Boolean);
      if (avail.length > 0) await fs.writeFile(path.join(up, 'cgroup.subtree_control'), avail.map((c) => `+${c}`).join(' ')).catch(() => undefined);
      return;
    }
    if (path.basename(hierarchy) === 'cpuset') {
      // A v1 cpuset cgroup with empty cpus/mems accepts no task: inherit the parent's.
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        const mine = (await readOr(path.join(dir, f))).trim();
        const theirs = (await readOr(path.join(up, f))).trim();
        if (mine === '' && theirs !== '') await fs.writeFile(path.join(dir, f), theirs);
      }
    }
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

/** True if it made the dir. */
async function mkdirIfMissing(dir: string): Promise<boolean> {
  try {
    await fs.mkdir(dir, { mode: 0o755 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

async function readOr(file: string, fallback = ''): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return fallback;
  }
}
