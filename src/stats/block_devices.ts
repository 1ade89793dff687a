// Block device names for "major:minor" (as cgroup io.stat and blkio name devices), the way
// cAdvisor labels its container_fs_* I/O metrics: /dev/<DEVNAME> from sysfs, cached because
// the set of disks rarely changes.

import { readFileSync } from 'node:fs';

const names = new Map<string, string>();

export function blockDeviceName(majorMinor: string, sysfs = '/sys/dev/block'): string {
  const known = names.get(majorMinor);
  if (known !== undefined) return known;
  let name = majorMinor;
  try {
    const devname = /^DEVNAME=(.+)$/m.exec(readFileSync(`${sysfs}/${majorMinor}/uevent`, 'utf8'))?.[1];
    if (devname) name = `/dev/${devname}`;
  } catch {
    // not a block device sysfs knows (gone): keep major:minor
  }
  names.set(majorMinor, name);
  return name;
}
