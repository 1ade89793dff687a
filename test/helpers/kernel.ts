// Kernel facts tests gate on, read from the kernel (uname), not from nori.

import { release } from 'node:os';

/** Whether the running kernel is at least major.minor. */
export function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release());
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/**
 * tmpfs accepts idmapped mounts from Linux 6.3 on. nori idmaps what it makes for a pod with its
 * own user namespace (shm is always tmpfs), so such pods need it; older kernels (Debian 12's 6.1
 * in the test:vm guest) get no user_namespaces in Status.
 */
export const IDMAPS_TMPFS = kernelAtLeast(6, 3);
export const NO_IDMAPPED_TMPFS = `kernel ${release()} cannot idmap tmpfs (Linux >= 6.3): no pods with their own user namespace here`;

/** In a mocha before hook: skips the suite, saying why, where tmpfs cannot be idmapped. */
export function skipWithoutIdmappedTmpfs(ctx: Mocha.Context): void {
  if (IDMAPS_TMPFS) return;
  console.log(`      (skipped: ${NO_IDMAPPED_TMPFS})`);
  ctx.skip();
}
