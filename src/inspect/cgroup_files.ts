// A known cgroup's limit and usage files, kept open between verbose calls and read again from
// offset 0 on each (cgroupfs answers a pread at 0 with fresh contents): one syscall per file
// instead of a path walk, open, read and close. Against the lab bench's verbose status right
// after start, readCgroup was most of the handler (12 files for a container, 12 for a pod here).
//
// Open files do not keep a cgroup from being removed (rmdir succeeds; a read then fails with
// ENODEV and the file is left out, as a missing one is). The owners close them when they forget
// the object; at most KEPT_OPEN cgroups hold files at once, the least recently read closing first.

import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupShape, CgroupView } from './cgroup';

const KEPT_OPEN = 64;
/** Limit and usage files are a line; a file filling the buffer is read by path instead. */
const BUF = Buffer.allocUnsafe(4096);

/** Open sets in the order they were last read (a Set keeps insertion order). */
const open = new Set<KeptCgroupFiles>();

export class KeptCgroupFiles {
  private fds?: Array<number | null>;

  constructor(readonly shape: CgroupShape) {}

  /** Opens the files now (a warm-up), so the first read costs what a later one does. */
  prepare(): void {
    if (!this.fds) this.openAll();
    open.delete(this);
    open.add(this);
  }

  /** The files' contents now, as the cgroup's discovery gives them. */
  read(): CgroupView {
    this.prepare();
    let i = 0;
    return {
      configured: this.shape.configured,
      hierarchies: this.shape.hierarchies.map(({ fileNames, ...h }) => {
        const files: Record<string, string> = {};
        if (h.dir) {
          for (const n of fileNames) {
            const t = readAt0(this.fds![i++]!, join(h.dir, n));
            if (t !== undefined) files[n] = t.trim();
          }
        }
        return { ...h, files };
      }),
    };
  }

  close(): void {
    open.delete(this);
    for (const fd of this.fds ?? []) if (fd !== null) closeQuiet(fd);
    this.fds = undefined;
  }

  private openAll(): void {
    this.fds = this.shape.hierarchies.flatMap((h) => (h.dir ? h.fileNames.map((n) => openQuiet(join(h.dir!, n))) : []));
    if (open.size >= KEPT_OPEN) open.values().next().value!.close();
  }
}

function readAt0(fd: number | null, path: string): string | undefined {
  if (fd === null) return undefined;
  try {
    const n = readSync(fd, BUF, 0, BUF.length, 0);
    if (n < BUF.length) return BUF.toString('utf8', 0, n);
  } catch {
    return undefined; // removed meanwhile (ENODEV), as a missing file
  }
  return readCgroupFileByPath(path);
}

function readCgroupFileByPath(path: string): string | undefined {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const chunks: Buffer[] = [];
    for (let n; (n = readSync(fd, BUF, 0, BUF.length, null)) > 0; ) chunks.push(Buffer.from(BUF.subarray(0, n)));
    return Buffer.concat(chunks).toString('utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== null) closeQuiet(fd);
  }
}

function openQuiet(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch {
    return null;
  }
}

function closeQuiet(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
