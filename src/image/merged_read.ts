// Reads a file from an image's layers without mounting them, as overlayfs would show it:
// the top-most layer that has the path wins; a whiteout (0/0 char device) or an opaque
// directory hides everything below; symlinks are followed inside the image root.

import * as fs from 'node:fs';
import { join } from 'node:path';
import { FailedPreconditionError } from '../errors';
import type { Sys } from '../sys/types';
import { FileTooLargeError, readRegularCapped } from '../util/capped_read';

type Found = { kind: 'none' } | { kind: 'file'; path: string } | { kind: 'dir' } | { kind: 'link'; target: string } | { kind: 'other' };

function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Looks one merged path (already free of symlinks in its parents) up, top layer first. */
function lookup(diffs: string[], comps: string[], sys: Sys): Found {
  for (const diff of diffs) {
    // a whiteout or a non-directory on a parent in this layer hides the path below
    let hidden = false;
    let opaqueAbove = false;
    for (let i = 0; i < comps.length - 1; i++) {
      const p = join(diff, ...comps.slice(0, i + 1));
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!st) break;
      if (!st.isDirectory()) {
        hidden = true;
        break;
      }
      if (sys.lgetxattr(p, 'trusted.overlay.opaque')?.toString() === 'y') opaqueAbove = true;
    }
    if (hidden) return { kind: 'none' };
    const p = join(diff, ...comps);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (st) {
      if (isWhiteout(st)) return { kind: 'none' };
      if (st.isFile()) return { kind: 'file', path: p };
      if (st.isDirectory()) return { kind: 'dir' };
      if (st.isSymbolicLink()) return { kind: 'link', target: fs.readlinkSync(p) };
      return { kind: 'other' };
    }
    if (opaqueAbove) return { kind: 'none' };
  }
  return { kind: 'none' };
}

/** The most readMerged reads of one file (/etc/passwd and /etc/group are what it reads). */
export const MERGED_READ_MAX = 16 << 20;

/** diffs: layer diff dirs, top first. A file larger than maxBytes is refused, not read. */
export function readMerged(diffs: string[], path: string, sys: Sys, maxBytes = MERGED_READ_MAX): Buffer | null {
  let pending = path.split('/').filter((c) => c && c !== '.');
  let done: string[] = [];
  for (let hops = 0; pending.length; ) {
    const c = pending.shift()!;
    if (c === '..') {
      done.pop();
      continue;
    }
    const cur = [...done, c];
    const f = lookup(diffs, cur, sys);
    if (f.kind === 'none' || f.kind === 'other') return null;
    if (f.kind === 'link') {
      if (++hops > 40) return null;
      const t = f.target.split('/').filter((x) => x && x !== '.');
      if (f.target.startsWith('/')) done = [];
      pending = [...t, ...pending];
      continue;
    }
    if (f.kind === 'file') {
      if (pending.length) return null;
      try {
        return readRegularCapped(f.path, maxBytes, { over: 'throw' });
      } catch (e) {
        if (e instanceof FileTooLargeError) throw new FailedPreconditionError(`the image's ${path} is larger than ${maxBytes} bytes`);
        throw e;
      }
    }
    done = cur;
  }
  return null;
}
