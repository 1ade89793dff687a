// File-system helpers Node lacks or gets wrong.

import { mkdirSync, readdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';

/**
 * `mkdir -p`, one component at a time. Node's `mkdirSync(p, { recursive: true })` spins forever
 * when a component cannot be created but its parent exists (e.g. anything under /proc).
 */
export function mkdirp(path: string, mode = 0o755): void {
  const parts = resolve(path).split(sep).filter((p) => p !== '');
  let cur = '';
  for (const part of parts) {
    cur += sep + part;
    try {
      mkdirSync(cur, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Writes a file so that readers see either the old or the new content, even after a crash. */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): void {
  mkdirp(dirname(path));
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The names in `dir`, or none when it is missing or unreadable (sweeps treat both alike). */
export function listDirQuiet(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
