// Gives freed native memory back once the daemon goes quiet. After a burst of pod churn glibc
// keeps what libuv's threads and the addon freed in its arenas, so RSS stays at the burst's
// high-water mark (a 500-pod soak ended 34 % above its start with V8's heap back where it
// began). malloc_trim walks the arenas, so it runs once per quiet spell, not on a fixed beat.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './log';
import type { Subsystem } from './subsystem';
import type { Sys } from './sys/types';

/**
 * ArrayBuffer bytes past which a trim collects garbage first. V8 frees a Buffer's memory only when
 * a full collection finds it dead, and a daemon whose heap barely grows may not run one for a long
 * time: after a flood of big requests, 260 MB of dead request buffers stayed counted for minutes.
 */
const COLLECT_FIRST_BYTES = 32 * 1024 * 1024;

let fullCollection: (() => void) | undefined;

/** A full garbage collection (V8's `gc`, exposed on first use rather than for the whole process). */
function collectGarbage(): void {
  if (!fullCollection) {
    setFlagsFromString('--expose-gc');
    fullCollection = runInNewContext('gc') as () => void;
  }
  fullCollection();
}

/** V8 frees dead ArrayBuffers' memory on a background thread after a collection: time it is given before the trim. */
const SWEEP_WAIT_MS = 250;

/** Returns freed memory to the kernel, collecting dead buffers first when they hold much. */
export async function reclaimMemory(sys: Sys, log: Logger, why: string): Promise<void> {
  const before = process.memoryUsage();
  const collected = before.arrayBuffers > COLLECT_FIRST_BYTES;
  if (collected) {
    collectGarbage();
    await new Promise((r) => setTimeout(r, SWEEP_WAIT_MS).unref());
  }
  const released = sys.mallocTrim();
  const after = process.memoryUsage();
  log.debug(
    { released, collected, arrayBuffersBefore: before.arrayBuffers, arrayBuffersAfter: after.arrayBuffers, rssBefore: before.rss, rssAfter: after.rss },
    `${why}: returned freed memory to the kernel`,
  );
}

/**
 * A function to call when a burst of big requests is over: a second later (its last calls'
 * answers written, their buffers dead), collects and trims once; calls meanwhile fold into it.
 * Kubelet's polling keeps a node from ever being quiet, so the idle trim alone would not run.
 */
export function reclaimAfterBurst(sys: Sys, log: Logger, delayMs = 1000): () => void {
  let pending: NodeJS.Timeout | undefined;
  return () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      void reclaimMemory(sys, log, 'request burst over');
    }, delayMs).unref();
  };
}

export interface IdleTrimOptions {
  /** A number that changes whenever a call starts (the edge's request sequence). */
  activity: () => number;
  /** How long without a new call counts as quiet. */
  quietMs?: number;
}

export function startIdleTrim(sys: Sys, log: Logger, opts: IdleTrimOptions): () => void {
  const quietMs = opts.quietMs ?? 10_000;
  let seen = opts.activity();
  let trimmedAt = -1;
  const timer = setInterval(() => {
    const now = opts.activity();
    if (now !== seen) {
      seen = now;
      return;
    }
    if (trimmedAt === now) return;
    trimmedAt = now;
    void reclaimMemory(sys, log, 'quiet');
  }, quietMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The trimmer as a subsystem: starts once recovery is done, stops with the daemon. */
export function idleTrimSubsystem(sys: Sys, log: Logger, activity: () => number): Subsystem {
  let stop: (() => void) | undefined;
  return {
    name: 'memory',
    handlers: {},
    recover: async () => {
      stop = startIdleTrim(sys, log, { activity });
    },
    close: async () => stop?.(),
  };
}
