// Wall-clock nanoseconds for CRI timestamps, from the monotonic clock anchored once at start-up:
// one hrtime read per call, and never backwards when the wall clock is stepped.

const EPOCH_BASE = BigInt(Date.now()) * 1_000_000n;
const HR_BASE = process.hrtime.bigint();

export function nowNs(): bigint {
  return process.hrtime.bigint() - HR_BASE + EPOCH_BASE;
}
