// cgroup facts: the layout (v2, hybrid, v1 or nothing mounted), the controllers pods need,
// where hugetlb lives, and whether the configured cgroup driver can work here.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config';
import { fail, pass, warn, type Check } from './check';
import { parseCgroupMounts, type CgroupMounts } from './cgroup_layout';

/** Controllers a pod's limits and stats need; missing ones are blocking. */
const NEEDED = ['cpu', 'memory', 'pids'] as const;
const WANTED = ['cpuset', 'io', 'hugetlb'] as const;

function v2Controllers(mount: string): string[] {
  try {
    return readFileSync(join(mount, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** Which hierarchy serves each controller: "v1", "v2" or absent. v1's blkio is v2's io. */
export function controllerHomes(m: CgroupMounts): Record<string, 'v1' | 'v2'> {
  const homes: Record<string, 'v1' | 'v2'> = {};
  if (m.v2Mount) for (const c of v2Controllers(m.v2Mount)) homes[c] = 'v2';
  for (const c of Object.keys(m.v1)) homes[c === 'blkio' ? 'io' : c] = 'v1';
  return homes;
}

export function cgroupChecks(config: Config, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): Check[] {
  const m = parseCgroupMounts(mountinfo);
  const out: Check[] = [];
  if (m.kind === 'none') {
    out.push(fail('cgroups', 'layout', 'no cgroup filesystem is mounted', 'mount -t cgroup2 none /sys/fs/cgroup (systemd and most distributions do this at boot)'));
    return out;
  }
  const homes = controllerHomes(m);
  const facts = { kind: m.kind, v1: m.v1, v2Mount: m.v2Mount ?? null, controllers: homes };
  if (m.kind === 'hybrid') {
    const onV2 = Object.entries(homes).filter(([, h]) => h === 'v2').map(([c]) => c);
    out.push(warn(
      'cgroups', 'layout',
      `hybrid: v1 controllers under /sys/fs/cgroup, cgroup2 at ${m.v2Mount}${onV2.length ? ` holding ${onV2.join(' ')}` : ''}; runc uses v1, crun only through nori's wrapper`,
      'boot with systemd.unified_cgroup_hierarchy=1 (pure cgroup v2), what Kubernetes supports going forward',
      facts,
    ));
  } else if (m.kind === 'v1') {
    out.push(warn('cgroups', 'layout', 'cgroup v1 only: Kubernetes has deprecated v1 support', 'boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2)', facts));
  } else {
    out.push(pass('cgroups', 'layout', `cgroup v2 at ${m.v2Mount}`, facts));
  }
  const missing = NEEDED.filter((c) => !homes[c]);
  const list = Object.entries(homes).map(([c, h]) => `${c}(${h})`).join(' ');
  out.push(
    missing.length
      ? fail('cgroups', 'controllers', `missing ${missing.join(' ')}; have ${list || 'none'}`, m.kind === 'v2' ? `enable them: echo "+${missing.join(' +')}" > ${m.v2Mount}/cgroup.subtree_control` : `mount the ${missing.join(', ')} hierarchies under /sys/fs/cgroup`)
      : WANTED.some((c) => !homes[c])
        ? warn('cgroups', 'controllers', `have ${list}; missing ${WANTED.filter((c) => !homes[c]).join(' ')}`, 'enable them in the kernel/boot configuration to get those limits')
        : pass('cgroups', 'controllers', list),
  );
  out.push(hugetlbCheck(m, homes));
  out.push(driverCheck(config));
  return out;
}

function hugetlbCheck(m: CgroupMounts, homes: Record<string, 'v1' | 'v2'>): Check {
  if (!homes.hugetlb) return warn('cgroups', 'hugetlb', 'no hugetlb controller: hugepage limits are dropped (as containerd tolerates)', 'enable CONFIG_CGROUP_HUGETLB to enforce hugepage limits');
  if (m.kind === 'hybrid' && homes.hugetlb === 'v2') {
    return warn(
      'cgroups', 'hugetlb',
      `on cgroup2 (${m.v2Mount}), not v1: the v1 runtime cannot set hugepage limits, so nori drops them with a log line`,
      'move to pure cgroup v2, or mount hugetlb as a v1 hierarchy, to enforce hugepage limits',
    );
  }
  return pass('cgroups', 'hugetlb', `on ${homes.hugetlb}`);
}

function driverCheck(config: Config): Check {
  const systemdRuns = existsSync('/run/systemd/system');
  if (config.cgroupDriver === 'systemd') {
    if (!systemdRuns) return fail('cgroups', 'driver', 'cgroup-driver systemd but systemd is not running', 'set cgroup-driver = "cgroupfs" (and kubelet cgroupDriver: cgroupfs)');
    // The systemd driver asks systemd over the system bus for slices and scopes.
    const bus = /^unix:path=([^,;]+)/.exec(process.env.DBUS_SYSTEM_BUS_ADDRESS ?? '')?.[1] ?? '/run/dbus/system_bus_socket';
    return existsSync(bus)
      ? pass('cgroups', 'driver', `systemd (systemd is PID 1, system bus at ${bus})`)
      : fail('cgroups', 'driver', `cgroup-driver systemd but no D-Bus system bus at ${bus}`, 'apt-get install dbus && systemctl start dbus (or set cgroup-driver = "cgroupfs")');
  }
  return systemdRuns
    ? warn('cgroups', 'driver', 'cgroupfs on a systemd host: systemd and nori both manage cgroups', 'set cgroup-driver = "systemd" here and kubelet cgroupDriver: systemd')
    : pass('cgroups', 'driver', 'cgroupfs (no systemd running); kubelet must use cgroupDriver: cgroupfs');
}
