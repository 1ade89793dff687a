// Cheap kernel reads for the verbose status view (native/src/inspect_read.cc), each with the
// plain way as its fallback when the addon is older or the kernel lacks the call:
//  - many small files in one native call (cgroup limits and usage), null for a missing one;
//  - files kept open, each read again from offset 0, in one native call; a directory's link count;
//  - the mount on a path through statmount(2) instead of scanning /proc/self/mountinfo;
//  - nftables' ruleset generation, to tell whether a listing of nori's table still holds.

import { fstatSync, readFileSync, readSync } from 'node:fs';
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
  readFdsAt0?(fds: Array<number | null>): Array<string | null | undefined>;
  linkCount?(fd: number): number;
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

const BUF = Buffer.allocUnsafe(16384);

/**
 * Each open file's contents read from offset 0, in order: null for no fd or a failed read,
 * undefined for a file larger than the buffer (16 KiB; read it by path).
 */
export function readFdsAt0(fds: Array<number | null>): Array<string | null | undefined> {
  const f = addon().readFdsAt0;
  if (f) return f(fds);
  return fds.map((fd) => {
    if (fd === null) return null;
    try {
      const n = readSync(fd, BUF, 0, BUF.length, 0);
      return n < BUF.length ? BUF.toString('utf8', 0, n) : undefined;
    } catch {
      return null;
    }
  });
}

/** The st_nlink of an open file; -1 when it cannot be asked. */
export function linkCount(fd: number): number {
  const f = addon().linkCount;
  if (f) return f(fd);
  try {
    return fstatSync(fd).nlink;
  } catch {
    return -1;
  }
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
