// Waiting for what the kernel or the daemon does in its own time: poll a check until it holds.
// The deadline only turns a hang into a clear failure (tests are not timed); it is stretched on
// slow machines like every other deadline (slow.ts).

import { scaled } from './slow';

export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000, pollMs = 50): Promise<void> {
  const end = Date.now() + scaled(ms);
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
