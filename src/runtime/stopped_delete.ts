// `runc delete` of a container whose init has exited does two things after a Go start-up of
// ≈ 40 ms: it removes the container's cgroup directories and its state directory under --root
// (runc 1.x runs no other step here: nori's specs carry no hooks and no Intel RDT). This does the
// same in-process. Anything it cannot do the same way is left to the runtime: a cgroup that still
// holds a process (rmdir fails: `runc delete --force` kills what is left), nested cgroups, the
// systemd driver's "slice:prefix:name" paths (systemd owns those units), or a path that is odd.

import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** true: cgroups and state are gone; false: nothing or only part was done, run the runtime's delete. */
export function deleteStoppedInProcess(runtimeRoot: string, id: string, cgroupsPath: string, cgroupRoot = '/sys/fs/cgroup'): boolean {
  if (!/^[0-9a-f]{64}$/.test(id) || !cgroupsPath.startsWith('/')) return false;
  const rel = cgroupsPath.replace(/^\/+/, '');
  if (rel === '' || rel.split('/').some((c) => c === '..' || c === '.' || c === '')) return false;
  let hierarchies: string[];
  try {
    hierarchies = existsSync(join(cgroupRoot, 'cgroup.controllers')) ? [cgroupRoot] : readdirSync(cgroupRoot).map((c) => join(cgroupRoot, c));
  } catch {
    return false;
  }
  for (const h of hierarchies) {
    try {
      rmdirSync(join(h, rel));
    } catch (e) {
      // ENOENT: not in this hierarchy, or already removed through a symlinked name (cpu → cpu,cpuacct)
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    }
  }
  rmSync(join(runtimeRoot, id), { recursive: true, force: true });
  return true;
}
