// Scratch directories for mount probes (the doctor's, and whether this node idmaps tmpfs): made
// where nori will really work (under the nearest existing ancestor of its root and state),
// removed afterwards even on failure.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getSys, MNT_DETACH } from './index';

/** The path itself, or its nearest ancestor that exists (nori creates the rest at start-up). */
export function nearestExisting(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

export function withScratchDir<T>(under: string, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(nearestExisting(under), '.nori-doctor-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mounts, runs fn, and detaches the mount whatever happens. */
export function withMount<T>(source: string, target: string, fstype: string, data: string | null, fn: () => T): T {
  const sys = getSys();
  sys.mount(source, target, fstype, 0, data);
  try {
    return fn();
  } finally {
    sys.umount2(target, MNT_DETACH);
  }
}
