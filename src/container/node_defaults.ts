// What the spec builder needs to know about this node, read once at start-up.

import { existsSync, lstatSync, readFileSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { hostname, release } from 'node:os';
import { join } from 'node:path';
import { mkdirp } from '../util/fs';
import { parseRlimits, readSelfLimits } from '../proc/limits';
import { parseCapabilityMask } from './spec/capabilities';
import type { Config } from '../config';
import type { HostDevice, NodeDefaults } from './spec/types';

/** Hard limits of this process from /proc/self/limits ("unlimited" → 2^64-1 as a JS number). */
export function readHardRlimits(text = readSelfLimits()): Record<string, number> {
  return Object.fromEntries(Object.entries(parseRlimits(text)).map(([name, l]) => [name, l.hard]));
}

/** The parts that do not change while nori runs; mountinfo is read fresh per container. */
export function staticNodeDefaults(config: Config): NodeDefaults {
  let profile: unknown = undefined;
  try {
    profile = JSON.parse(readFileSync(config.seccompProfile, 'utf8'));
  } catch {
    profile = undefined;
  }
  let apparmor = false;
  try {
    apparmor = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    apparmor = false;
  }
  const cgroupV2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const capBnd = /^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return {
    defaultSeccompProfile: profile,
    readLocalhostProfile: (p) => readFileSync(p, 'utf8'),
    hardRlimits: readHardRlimits(),
    minOomScoreAdj: Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()),
    // v2: only when the root hands the controller down (it lists it in cgroup.controllers).
    hugetlbAvailable: cgroupV2 ? readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes('hugetlb') : existsSync('/sys/fs/cgroup/hugetlb'),
    cgroupDriver: config.cgroupDriver,
    apparmorEnabled: apparmor,
    ...(capBnd ? { allCapabilities: parseCapabilityMask(capBnd) } : {}),
    hostDevices: hostDevices('/dev'),
    statDevice: (p) => {
      try {
        return deviceOf(p, statSync(p));
      } catch {
        return null;
      }
    },
    resolveHostPath: (p) => {
      if (!existsSync(p)) mkdirp(p);
      return realpathSync(p);
    },
    cgroupV2,
    swapAvailable: cgroupV2 || existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
    nodeHostname: hostname(),
    kernelVersion: release().split('-')[0] ?? release(),
  };
}

export function withMountInfo(d: NodeDefaults): NodeDefaults {
  return { ...d, mountInfo: readFileSync('/proc/self/mountinfo', 'utf8') };
}

function deviceOf(path: string, st: Stats): HostDevice | null {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFIFO() ? 'p' : null;
  if (!type) return null;
  const rdev = st.rdev;
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
  return { path, type, major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

/** Device nodes under /dev as containerd's HostDevices (skips pts, shm, mqueue and /dev/console). */
export function hostDevices(dir: string): HostDevice[] {
  const out: HostDevice[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(dir, name);
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if (['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev'].includes(name)) continue;
      out.push(...hostDevices(p));
      continue;
    }
    if (p === '/dev/console') continue;
    const d = deviceOf(p, st);
    if (d && d.type !== 'p') out.push(d);
  }
  return out;
}
