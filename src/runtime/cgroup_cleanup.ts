// The container's own cgroup directories, removed when a create fails: an OCI runtime that
// fails half-way (crun writing a device rule, a missing controller…) may already have made
// them and, without a container to `delete`, nobody else ever removes them.

import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * rmdir of `cgroupsPath` (a cgroupfs-driver path, "/parent/nori-<id>") in every hierarchy under
 * `root`. rmdir only removes empty cgroups, so a cgroup that still holds a process stays. The
 * systemd driver's "slice:prefix:name" form is left to systemd, which owns those scopes.
 */
export function removeContainerCgroups(cgroupsPath: string, root = '/sys/fs/cgroup'): string[] {
  if (!cgroupsPath.startsWith('/')) return [];
  const rel = cgroupsPath.replace(/^\/+/, '');
  if (rel === '' || rel.split('/').some((c) => c === '..' || c === '.')) return [];
  let hierarchies: string[];
  try {
    hierarchies = existsSync(join(root, 'cgroup.controllers')) ? [root] : readdirSync(root).map((c) => join(root, c));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const h of hierarchies) {
    const dir = join(h, rel);
    try {
      rmdirSync(dir);
      removed.push(dir);
    } catch {
      // absent, still in use, or the same hierarchy reached through a symlink (cpu,cpuacct)
    }
  }
  return removed;
}
