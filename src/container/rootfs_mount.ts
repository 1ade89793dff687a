// The container's overlay rootfs mount and its removal.

import { resolve as resolvePath } from 'node:path';
import type { Sys } from '../sys/types';

export interface OverlayLayer {
  lowerdir: string;
  upperdir: string;
  workdir: string;
  /** The directory the layer paths are relative to ('' when they are absolute). */
  mountCwd: string;
}

export function mountOverlay(sys: Sys, layer: OverlayLayer, target: string): void {
  const abs = (p: string) => (layer.mountCwd ? resolvePath(layer.mountCwd, p) : p);
  const absData = `lowerdir=${layer.lowerdir.split(':').map(abs).join(':')},upperdir=${abs(layer.upperdir)},workdir=${abs(layer.workdir)}`;
  if (!layer.mountCwd || absData.length < 4000) {
    sys.mount('overlay', target, 'overlay', 0, absData);
    return;
  }
  // Options too long as absolute paths (a page is the kernel's limit): mount relative to
  // mountCwd. chdir + mount + chdir are all synchronous, so no other JS runs while the cwd is moved.
  const data = `lowerdir=${layer.lowerdir},upperdir=${layer.upperdir},workdir=${layer.workdir}`;
  const cwd = process.cwd();
  process.chdir(layer.mountCwd);
  try {
    sys.mount('overlay', target, 'overlay', 0, data);
  } finally {
    process.chdir(cwd);
  }
}
