// Gives freed native memory back once the daemon goes quiet. After a burst of pod churn glibc
// keeps what libuv's threads and the addon freed in its arenas, so RSS stays at the burst's
// high-water mark (a 500-pod soak ended 34 % above its start with V8's heap back where it
// began). malloc_trim walks the arenas, so it runs once per quiet spell, not on a fixed beat.

import type { Logger } from './log';
import type { Subsystem } from './subsystem';
import type { Sys } from './sys/types';

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
    const before = process.memoryUsage.rss();
    const released = sys.mallocTrim();
    log.debug({ released, rssBefore: before, rssAfter: process.memoryUsage.rss() }, 'quiet: returned freed memory to the kernel');
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
