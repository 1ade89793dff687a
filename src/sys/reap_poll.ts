// A child spawned by the addon (posix_spawn) is not libuv's, so libuv never reaps it: whoever
// spawned it polls waitpid through the addon until it is gone.

/** `reap(pid)`: the addon's waitpid(WNOHANG); null while the child runs. */
export type ReapChild = (pid: number) => number | null | undefined;

/** Resolves once the child is reaped, polling from 1 ms and doubling up to maxDelayMs. */
export function reapedOnExit(reap: ReapChild, pid: number, maxDelayMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    let delay = 1;
    const poll = () => {
      if (reap(pid) !== null) return resolve();
      delay = Math.min(delay * 2, maxDelayMs);
      setTimeout(poll, delay);
    };
    poll();
  });
}
