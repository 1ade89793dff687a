// Cgroup files read poll after poll, through descriptors kept open. The stats calls read six or
// seven cgroupfs files per container and pod, and opening one costs the kernel a path walk and a
// kernfs open: measured here, open + read + close of memory.usage_in_bytes took 13 µs and a read
// at offset 0 of a kept descriptor 2.6 µs (memory.stat: 23.5 and 9.4 µs). A kernfs seq file
// builds its text anew for a read that starts at offset 0, so the kept descriptor sees current
// values.
//
// A kept descriptor does not keep its cgroup: rmdir succeeds and the descriptor then reads
// ENODEV, upon which the path is opened afresh (a cgroup made again at the same path) or found
// gone. Descriptors not read for a minute are closed, which is how those of removed containers
// go; kubelet asks stats every 10-15 s, so those of live ones stay. The sweep also runs on a
// timer while any is kept: on a node whose last pod went, no read comes to run it.
//
// Each kept descriptor costs the kernel its seq_file page: 3,600 of them took 15 MB of slab here.
// So at most 8,192 are kept (about 34 MB; 110 pods of 3 containers need some 2,800), and never
// more than a quarter of the open files limit; past that, files are opened for each read.

import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { openFilesLimit } from '../proc/limits';

/** Kept descriptors not read for this long are closed. */
export const HELD_IDLE_MS = 60_000;
/** Never more than this many descriptors kept, whatever the limit. */
const MAX_HELD = 8192;
/** A read that fills the buffer may have been cut: such a file is read whole instead. */
const READ_BUFFER_BYTES = 64 * 1024;

interface Held {
  fd: number;
  readAt: number;
}

export interface HeldFileOptions {
  /** Descriptors kept at most; default a quarter of the open files limit, at most 8,192. */
  maxHeld?: number;
  idleMs?: number;
  now?: () => number;
}

export class HeldFileReader {
  private readonly held = new Map<string, Held>();
  private readonly buf = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  private readonly maxHeld: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  private sweptAt: number;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(opts: HeldFileOptions = {}) {
    this.maxHeld = opts.maxHeld ?? Math.min(MAX_HELD, Math.floor((openFilesLimit() ?? 1024) / 4));
    this.idleMs = opts.idleMs ?? HELD_IDLE_MS;
    this.now = opts.now ?? Date.now;
    this.sweptAt = this.now();
  }

  /** Descriptors kept now. */
  get size(): number {
    return this.held.size;
  }

  /** The file's text as a read from its start gives it now; undefined when it cannot be read. */
  read(path: string): string | undefined {
    const now = this.now();
    if (now - this.sweptAt >= this.idleMs / 4) this.sweep(now);
    const h = this.held.get(path);
    if (h) {
      const text = this.readHeld(h.fd, path);
      if (text !== undefined) {
        h.readAt = now;
        return text;
      }
      this.drop(path, h);
    }
    return this.readAfresh(path, now);
  }

  /** Closes every kept descriptor. */
  close(): void {
    for (const [path, h] of this.held) this.drop(path, h);
    this.sweep(this.now());
  }

  private readAfresh(path: string, now: number): string | undefined {
    if (this.held.size >= this.maxHeld) return readWhole(path);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined;
    }
    const text = this.readHeld(fd, path);
    if (text === undefined) {
      closeSync(fd);
      return undefined;
    }
    this.held.set(path, { fd, readAt: now });
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(this.now()), this.idleMs / 4);
      this.sweeper.unref();
    }
    return text;
  }

  private readHeld(fd: number, path: string): string | undefined {
    let n: number;
    try {
      n = readSync(fd, this.buf, 0, this.buf.length, 0);
    } catch {
      return undefined;
    }
    if (n < this.buf.length) return this.buf.toString('utf8', 0, n);
    return readWhole(path); // cut at the buffer's end (no cgroup file the stats read is this long)
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [path, h] of this.held) if (now - h.readAt >= this.idleMs) this.drop(path, h);
    if (this.held.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private drop(path: string, h: Held): void {
    this.held.delete(path);
    try {
      closeSync(h.fd);
    } catch {
      // already closed
    }
  }
}

function readWhole(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
