// A container's root filesystem as the kernel mounted it: the overlay at <bundle>/rootfs in
// /proc/self/mountinfo, with its lowerdirs (top first), upperdir and workdir as the kernel shows
// them. nori mounts with paths relative to the layer store when absolute ones would not fit in a
// page; `resolved` then gives them against that directory, each l/<short> link followed to the
// layer's diff directory.

import { realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { mountsAt, readMountinfo, unescapeMountinfo } from '../proc/mountinfo';
import { mountAt } from '../sys/inspect_reads';

export interface OverlayView {
  mountPoint: string;
  mountId: number;
  /** Exactly as the kernel shows them. */
  lowerdirs: string[];
  upperdir: string;
  workdir: string;
  /** Absolute real paths (relative ones resolved against `base`). */
  resolved: { lowerdirs: string[]; upperdir: string; workdir: string };
}

/** Pure: the overlay mounted at mountPoint in a mountinfo text (the last one wins). */
export function findOverlay(mountinfo: string, mountPoint: string): Omit<OverlayView, 'resolved'> | undefined {
  const m = mountsAt(mountinfo, mountPoint).filter((e) => e.fstype === 'overlay').pop();
  return m ? overlayOf(mountPoint, m.mountId, m.superOptions) : undefined;
}

/** Pure: an overlay's dirs from its super options (overlay escapes ',', '=', whitespace and '\\' in values as \ooo). */
export function overlayOf(mountPoint: string, mountId: number, superOptions: string): Omit<OverlayView, 'resolved'> {
  const opts = new Map<string, string>();
  for (const o of superOptions.split(',')) {
    const i = o.indexOf('=');
    if (i > 0) opts.set(o.slice(0, i), unescapeMountinfo(o.slice(i + 1)));
  }
  return {
    mountPoint,
    mountId,
    lowerdirs: (opts.get('lowerdir') ?? '').split(':').filter(Boolean),
    upperdir: opts.get('upperdir') ?? '',
    workdir: opts.get('workdir') ?? '',
  };
}

function real(base: string, p: string): string {
  const abs = isAbsolute(p) ? p : resolve(base, p);
  try {
    return realpathSync.native(abs);
  } catch {
    return abs;
  }
}

/**
 * The overlay on a container's rootfs: asked of statmount(2) for that one mount when the kernel
 * has it (an overlay right there, on top), else found in mountinfo.
 */
export function containerOverlay(rootfs: string, layerStoreDir: string): OverlayView | undefined {
  const top = mountAt(rootfs);
  const o = top?.mountPoint === rootfs && top.fsType === 'overlay' ? overlayOf(rootfs, top.mountId, top.options) : findOverlay(readMountinfo(), rootfs);
  if (!o) return undefined;
  return {
    ...o,
    resolved: {
      lowerdirs: o.lowerdirs.map((l) => real(layerStoreDir, l)),
      upperdir: real(layerStoreDir, o.upperdir),
      workdir: real(layerStoreDir, o.workdir),
    },
  };
}
