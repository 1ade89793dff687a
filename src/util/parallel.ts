// Bounded concurrency for start-up work over many objects: a few at a time (each may start a
// process or wait on the thread pool), and no single object can hold up the rest for longer
// than its timeout.

/** Runs fn over items, `width` at a time; resolves when all have settled. fn must not throw. */
export async function eachLimited<T>(items: readonly T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(width, items.length)) }, worker));
}

export class TimeoutError extends Error {}

/** p, or a TimeoutError after ms (p goes on running; its outcome is then ignored). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
