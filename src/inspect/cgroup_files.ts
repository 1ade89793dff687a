// A known cgroup's limit and usage files and its cgroup.procs, kept open between verbose calls and read again from
// offset 0 on each (cgroupfs answers a pread at 0 with fresh contents): one syscall per file
// instead of a path walk, open, read and close. Against the lab bench's verbose status right
// after start, readCgroup was most of the handler (12 files for a container, 12 for a pod here).
//
// Open files do not keep a cgroup from being removed (rmdir succeeds; a read then fails with
// ENODEV and the file is left out, as a missing one is). The owners close them when they forget
// the object; at most KEPT_OPEN cgroups hold files at once, the least recently read closing first.

import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { linkCount, readFdsAt0 } from '../sys/inspect_reads';
import { pidsUnder, procsDirOf, type CgroupShape } from './cgroup';

const KEPT_OPEN = 64;
/** For a file too big for one read at offset 0 (limit and usage files are a line), read by path. */
const BUF = Buffer.allocUnsafe(4096);

/** Open sets in the order they were last read (a Set keeps insertion order). */
const open = new Set<KeptCgroupFiles>();

export class KeptCgroupFiles {
  private fds?: Array<number | null>;
  /**
   * The view as JSON text, less the files' contents (made once: the shape does not change): each
   * hierarchy's text up to its files object, and each file's key. The verbose answer is text, and
   * stringifying the whole view again on every call (paths of two 64-character ids, ten times
   * over) cost as much as reading the files.
   */
  private readonly json: { head: string; hierarchies: Array<{ head: string; keys: string[] }> };
  /** The directory the pids are listed from, and its cgroup.procs, kept open too. */
  private procs?: { dir: string; dirFd: number | null; procsFd: number | null };

  /** Made where the facts are found (StartContainer's warm-up), not on the first ask. */
  constructor(readonly shape: CgroupShape) {
    this.json = {
      head: `{"configured":${JSON.stringify(shape.configured)},"hierarchies":[`,
      hierarchies: shape.hierarchies.map(({ fileNames, ...base }) => ({
        head: JSON.stringify({ ...base, files: {} }).slice(0, -2),
        keys: fileNames.map((n) => `${JSON.stringify(n)}:`),
      })),
    };
  }

  /** Opens the files now (a warm-up), so the first read costs what a later one does. */
  prepare(): void {
    if (!this.fds) {
      this.openAll();
      const dir = procsDirOf(this.shape);
      if (dir) this.openProcs(dir);
    }
    open.delete(this);
    open.add(this);
  }

  /** The CgroupView with the files' contents now, as the cgroup's discovery gives them, as JSON text. */
  readJson(): string {
    const contents = this.readContents();
    const json = this.json;
    let out = json.head;
    json.hierarchies.forEach((h, k) => {
      if (k > 0) out += ',';
      out += h.head;
      let first = true;
      contents[k]!.forEach((t, f) => {
        if (t === undefined) return;
        out += `${first ? '' : ','}${h.keys[f]}${JSON.stringify(t)}`;
        first = false;
      });
      out += '}}';
    });
    return `${out}]}`;
  }

  /** Per hierarchy, per file name: the trimmed contents now, undefined where the file could not be read. */
  private readContents(): Array<Array<string | undefined>> {
    this.prepare();
    const texts = readFdsAt0(this.fds!);
    let i = 0;
    return this.shape.hierarchies.map((h) => (h.dir ? h.fileNames.map((n) => textOf(texts[i++], h.dir!, n)?.trim()) : []));
  }

  /**
   * The pids in the cgroup at `dir` and below it, as cgroup.pidsUnder lists them. While the
   * directory has no child cgroups (kernfs counts a directory's links as 2 plus its
   * subdirectories), its kept cgroup.procs is all there is to read.
   */
  pidsUnder(dir: string): number[] {
    if (this.procs?.dir !== dir) this.openProcs(dir);
    const { dirFd, procsFd } = this.procs!;
    if (dirFd === null || procsFd === null) return pidsUnder(dir);
    const links = linkCount(dirFd);
    if (links < 0 || links > 2) return pidsUnder(dir);
    const text = textOf(readFdsAt0([procsFd])[0], dir, 'cgroup.procs');
    if (text === undefined) return []; // removed meanwhile, as pidsUnder has it
    const out: number[] = [];
    for (const p of text.split('\n')) if (p) out.push(Number(p));
    return out.sort((a, b) => a - b);
  }

  close(): void {
    open.delete(this);
    for (const fd of this.fds ?? []) if (fd !== null) closeQuiet(fd);
    this.fds = undefined;
    this.closeProcs();
  }

  private openProcs(dir: string): void {
    this.closeProcs();
    this.procs = { dir, dirFd: openQuiet(dir), procsFd: openQuiet(join(dir, 'cgroup.procs')) };
  }

  private closeProcs(): void {
    if (this.procs?.dirFd != null) closeQuiet(this.procs.dirFd);
    if (this.procs?.procsFd != null) closeQuiet(this.procs.procsFd);
    this.procs = undefined;
  }

  private openAll(): void {
    this.fds = this.shape.hierarchies.flatMap((h) => (h.dir ? h.fileNames.map((n) => openQuiet(join(h.dir!, n))) : []));
    if (open.size >= KEPT_OPEN) open.values().next().value!.close();
  }
}

/** A kept file's text: null when the read failed (removed meanwhile, ENODEV: as a missing file), undefined when too big to read at once. */
function textOf(t: string | null | undefined, dir: string, name: string): string | undefined {
  if (t === null) return undefined;
  return t ?? readCgroupFileByPath(join(dir, name));
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
