// The addon's dirUsage (native/src/dir_usage.cc): bytes and inodes under a directory, walked on
// a niced thread of its own with openat/fstatat, so no tree a container builds (a million files,
// a FIFO, nesting past PATH_MAX) can block the event loop or fail the walk; and removeTree.

import * as fs from 'node:fs';
import { FailedPreconditionError } from '../errors';
import { loadAddon } from './native';

export interface DirUsage {
  bytes: number;
  inodes: number;
  /** entries read (stops at maxEntries) */
  entries: number;
  /** directories that could not be opened: counted as inodes, not walked */
  unreadable: number;
  /** false when the walk stopped at maxEntries */
  complete: boolean;
}

type DirUsageFn = (path: string, maxEntries?: number) => Promise<DirUsage>;

/** Measures `path` off the event loop; rejects (ENOENT, ENOTDIR...) only for the root itself. */
export function dirUsage(path: string, maxEntries?: number): Promise<DirUsage> {
  const fn = (loadAddon() as unknown as { dirUsage?: DirUsageFn }).dirUsage;
  if (!fn) return Promise.reject(new FailedPreconditionError('native addon lacks dirUsage (run npm run build:native)'));
  return fn(path, maxEntries);
}

/**
 * rm -rf off the event loop, with openat/unlinkat instead of paths, so a tree nested past
 * PATH_MAX goes too (Node's fs.rm fails there with ENAMETOOLONG). A missing path is success.
 */
export function removeTree(path: string): Promise<void> {
  const fn = (loadAddon() as unknown as { removeTree?: (p: string) => Promise<void> }).removeTree;
  if (!fn) return fs.promises.rm(path, { recursive: true, force: true });
  return fn(path);
}
