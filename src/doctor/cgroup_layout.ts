// The cgroup layout as the kernel shows it in /proc/self/mountinfo: which v1 hierarchies are
// mounted with which controllers, and where cgroup2 is. Pure, so tests feed it any mount table.

import { parseMountinfo } from '../proc/mountinfo';

export type LayoutKind = 'v2' | 'hybrid' | 'v1' | 'none';

export interface CgroupMounts {
  kind: LayoutKind;
  /** v1 controller → its mount point (named hierarchies like name=systemd excluded). */
  v1: Record<string, string>;
  /** cgroup2 mount point, if any (the root on a v2 host, …/unified on a hybrid one). */
  v2Mount?: string;
}

/** Parses mountinfo text; the last mount on a path wins, as the kernel shows it. */
export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  const v1: Record<string, string> = {};
  let v2Mount: string | undefined;
  for (const m of parseMountinfo(mountinfo)) {
    if (m.fstype === 'cgroup2') v2Mount = m.mountPoint;
    else if (m.fstype === 'cgroup') {
      for (const opt of m.superOptions.split(',')) {
        if (opt === 'rw' || opt === 'ro' || opt.includes('=') || opt === 'xattr' || opt === 'noprefix' || opt === 'clone_children') continue;
        v1[opt] = m.mountPoint;
      }
    }
  }
  const hasV1 = Object.keys(v1).length > 0;
  const kind: LayoutKind = hasV1 ? (v2Mount ? 'hybrid' : 'v1') : v2Mount ? 'v2' : 'none';
  return { kind, v1, ...(v2Mount ? { v2Mount } : {}) };
}
