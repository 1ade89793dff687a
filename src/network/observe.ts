// How long each ADD and DEL of a pod network took and whether it failed, for the metrics.
// Both networks (CNI and the built-in bridge) report through this one piece, so the two
// cannot drift in what they count as the duration or the outcome.

export type NetworkOp = 'ADD' | 'DEL';
export type NetworkObserver = (op: NetworkOp, seconds: number, err: unknown) => void;

/**
 * Runs fn and tells the holder's observer its duration and error (undefined on success); the
 * error is rethrown. The observer is read when fn settles, so one set meanwhile is still told.
 */
export async function observeNetworkOp<T>(holder: { readonly observer?: NetworkObserver }, op: NetworkOp, fn: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    const out = await fn();
    holder.observer?.(op, seconds(), undefined);
    return out;
  } catch (e) {
    holder.observer?.(op, seconds(), e);
    throw e;
  }
}
