// The kernel's cgroup files, read the way the tests take their expected values from them.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CGROUP_MOUNT = '/sys/fs/cgroup';

/** cgroup v2 alone (unified) at the mount; this VM is v1 hybrid, test:vm's guest is v2. */
export const CGROUP_V2 = existsSync(join(CGROUP_MOUNT, 'cgroup.controllers'));

/**
 * A cgroup file's text without its trailing newline. `dir` is relative to the mount: the cgroup
 * itself on v2, the hierarchy then the cgroup on v1 ('memory/nori/pod…').
 */
export function readCgroupFile(dir: string, file: string): string {
  return readFileSync(join(CGROUP_MOUNT, dir, file), 'utf8').trim();
}
