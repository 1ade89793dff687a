// Cheap kernel reads for the verbose status view (native/src/inspect_read.cc), each with the
// plain way as its fallback when the addon is older or the kernel lacks the call:
//  - many small files in one native call (cgroup limits and usage), null for a missing one;
//  - the mount on a path through statmount(2) instead of scanning /proc/self/mountinfo;
//  - nftables' ruleset generation, to tell whether a listing of nori's table still holds.

import { readFileSync } from 'node:fs';
import { loadAddon } from './native';

export interface MountAt {
  /** The id mountinfo shows (field 1). */
  mountId: number;
  /** Where the mount that holds `path` is mounted: `path` itself only when something is mounted there. */
  mountPoint: string;
  fsType: string;
  options: string;
}

interface InspectAddon {
  readSmallFiles?(paths: string[]): Array<string | null>;
  mountAt?(path: string): MountAt | null;
  nftGeneration?(): number | null;
}

function addon(): InspectAddon {
  try {
    return loadAddon() as unknown as InspectAddon;
  } catch {
    return {};
  }
}

/** The files' contents, in order; null for each one that cannot be read. */
export function readSmallFiles(paths: string[]): Array<string | null> {
  const f = addon().readSmallFiles;
  if (f) return f(paths);
  return paths.map((p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return null;
    }
  });
}

/**
 * The mount that holds `path` (the topmost one, when `path` is a mount point) as statmount(2)
 * reports it, its super options as mountinfo's field 11 shows them without the leading rw/ro;
 * undefined when this kernel or addon cannot say (read mountinfo then).
 */
export function mountAt(path: string): MountAt | undefined {
  const f = addon().mountAt;
  return f ? f(path) ?? undefined : undefined;
}

/** nftables' ruleset generation in nori's netns; undefined when it cannot be asked. */
export function nftGeneration(): number | undefined {
  const f = addon().nftGeneration;
  return f ? f() ?? undefined : undefined;
}
