// crun (1.8 in Debian 12) refuses to run at all on a hybrid cgroup host whose cgroup2 hierarchy
// (/sys/fs/cgroup/unified) holds a controller: "cgroups in hybrid mode not supported, drop all
// controllers from cgroupv2" (here hugetlb sits there). It only decides so from what it sees
// mounted, so on such a host the crun handler runs crun through a small wrapper that first
// unmounts that hierarchy in a mount namespace of its own: crun then sees a plain cgroup v1 host
// and uses the v1 controllers, as runc does here. Everything else is unchanged: the namespace
// keeps the host's propagation ("unchanged"), so bidirectional volume mounts still reach the
// host, and only the cgroup2 mount — made private first — is removed, in that namespace only.
// On a pure v1 or pure v2 host, or for any other runtime, the handler is used as configured.

import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { mkdirp } from '../util/fs';
import type { RuntimeHandler } from './oci_runtime';

export interface CgroupLayout {
  /** /sys/fs/cgroup itself is cgroup2 (a unified host). */
  unifiedRoot: boolean;
  /** Mount point of the hybrid host's cgroup2 hierarchy, if any. */
  hybridMount?: string;
  /** Controllers enabled in that cgroup2 hierarchy ("" if none). */
  hybridControllers: string;
}

export function readCgroupLayout(root = '/sys/fs/cgroup'): CgroupLayout {
  const unifiedRoot = existsSync(join(root, 'cgroup.controllers'));
  const hybridMount = join(root, 'unified');
  let hybridControllers = '';
  const hasHybrid = !unifiedRoot && existsSync(join(hybridMount, 'cgroup.controllers'));
  if (hasHybrid) {
    try {
      hybridControllers = readFileSync(join(hybridMount, 'cgroup.controllers'), 'utf8').trim();
    } catch {
      hybridControllers = '';
    }
  }
  return { unifiedRoot, ...(hasHybrid ? { hybridMount } : {}), hybridControllers };
}

/** crun (by its binary's name) on a hybrid host with controllers on cgroup2. */
export function needsHybridWrapper(runtimePath: string, layout: CgroupLayout): boolean {
  return /^crun\b/.test(basename(runtimePath)) && !layout.unifiedRoot && !!layout.hybridMount && layout.hybridControllers !== '';
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The wrapper: `unshare -m` (same pid, exec chain) → hide the cgroup2 mount → exec crun "$@". */
export function hybridWrapperScript(runtimePath: string, hybridMount: string): string {
  return [
    '#!/bin/sh',
    '# Written by nori (src/runtime/crun_hybrid.ts): runs crun where the hybrid host\'s cgroup2',
    '# hierarchy is not mounted, since crun refuses hybrid hosts with controllers on cgroup2.',
    `exec /usr/bin/unshare --mount --propagation unchanged -- /bin/sh -c 'mount --make-private "$0" && umount "$0" && exec "$@"' ${q(hybridMount)} ${q(runtimePath)} "$@"`,
    '',
  ].join('\n');
}

/**
 * The handler as it must be run on this host: unchanged, or with `path` pointing at a wrapper
 * written under `wrapperDir` (the configured binary stays in `wraps`).
 */
export function adaptHandler(h: RuntimeHandler, wrapperDir: string, layout: CgroupLayout = readCgroupLayout()): RuntimeHandler & { wraps?: string } {
  if (!needsHybridWrapper(h.path, layout)) return h;
  mkdirp(wrapperDir, 0o700);
  const wrapper = join(wrapperDir, `${h.name.replace(/[^A-Za-z0-9_.-]/g, '_')}-hybrid-cgroups`);
  writeFileSync(wrapper, hybridWrapperScript(h.path, layout.hybridMount!), { mode: 0o700 });
  chmodSync(wrapper, 0o700);
  return { ...h, path: wrapper, wraps: h.path };
}
