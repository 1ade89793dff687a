// The exec profile of a running container, built on its first ExecSync and kept in its bundle
// (exec-profile.v1, exec-seccomp.bpf) for the container's lifetime: the bundle goes with the
// container, and a profile names the init by pid and start time, so a stale one is refused by
// the helper rather than applied. Fallback decisions are remembered in memory, per init.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fs';
import { errorMessage } from '../errors';
import { parseMountinfo } from '../proc/mountinfo';
import { procStat } from '../proc/stat';
import { buildExecProfile, encodeExecProfile } from './exec_profile';

export const PROFILE_FILE = 'exec-profile.v1';
export const SECCOMP_FILE = 'exec-seccomp.bpf';

export type ProfileLookup = { ok: true; path: string } | { ok: false; reason: string };

/** Field 22 (starttime) of /proc/<pid>/stat, whatever the process's state. */
export function initStartTime(pid: number): string {
  const st = procStat(pid);
  if (!st) throw new Error(`cannot read /proc/${pid}/stat`);
  return st.startTime;
}

interface CgroupMount {
  v2: boolean;
  options: Set<string>;
  mountPoint: string;
  root: string;
}

/** The cgroup and cgroup2 mounts in a mountinfo text. */
export function cgroupMounts(mountinfo: string): CgroupMount[] {
  return parseMountinfo(mountinfo)
    .filter((m) => m.fstype === 'cgroup' || m.fstype === 'cgroup2')
    .map((m) => ({ v2: m.fstype === 'cgroup2', options: new Set(m.superOptions.split(',')), mountPoint: m.mountPoint, root: m.root }));
}

/** The host directories of every cgroup a process is in (from /proc/<pid>/cgroup), one per hierarchy. */
export function cgroupDirsOf(procCgroup: string, mounts: CgroupMount[]): string[] {
  const dirs: string[] = [];
  for (const line of procCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const ctrls = m[2]!.split(',').filter(Boolean);
    const mount = ctrls.length === 0 ? mounts.find((x) => x.v2) : mounts.find((x) => !x.v2 && ctrls.every((c) => x.options.has(c)));
    if (!mount) throw new Error(`no mount for cgroup hierarchy "${m[2]}"`);
    const rel = m[3]!;
    if (mount.root !== '/' && !(rel === mount.root || rel.startsWith(mount.root + '/'))) {
      throw new Error(`cgroup ${rel} is outside the mount of "${m[2]}"`);
    }
    dirs.push(join(mount.mountPoint, mount.root === '/' ? rel : rel.slice(mount.root.length)));
  }
  return dirs;
}

function compileSeccomp(helper: string, rulesPath: string, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(helper, ['compile', rulesPath, out], { timeout: 30_000 }, (err, _o, stderr) => {
      if (err) reject(new Error(`nori-exec compile: ${(stderr || err.message).trim()}`));
      else resolve();
    });
  });
}

export class ExecProfiles {
  private readonly decided = new Map<string, { pid: number; lookup: ProfileLookup }>();
  private readonly building = new Map<string, Promise<ProfileLookup>>();

  constructor(private readonly helper: string) {}

  /** The profile file of the container, building it the first time; or why there is none. */
  async get(containerId: string, bundle: string, initPid: number): Promise<ProfileLookup> {
    const known = this.decided.get(bundle);
    if (known && known.pid === initPid && (!known.lookup.ok || existsSync(known.lookup.path))) return known.lookup;
    const path = join(bundle, PROFILE_FILE);
    if (!known && existsSync(path)) return this.remember(bundle, initPid, { ok: true, path });
    let p = this.building.get(bundle);
    if (!p) {
      p = this.build(containerId, bundle, initPid).catch((e): ProfileLookup => ({ ok: false, reason: errorMessage(e) }));
      this.building.set(bundle, p);
      void p.finally(() => this.building.delete(bundle));
    }
    return this.remember(bundle, initPid, await p);
  }

  /** After the helper refused a profile (e.g. a stale init): the next exec builds it again. */
  invalidate(bundle: string): void {
    this.decided.delete(bundle);
    rmSync(join(bundle, PROFILE_FILE), { force: true });
  }

  private remember(bundle: string, pid: number, lookup: ProfileLookup): ProfileLookup {
    if (this.decided.size >= 512) {
      for (const b of this.decided.keys()) if (!existsSync(b)) this.decided.delete(b);
    }
    this.decided.set(bundle, { pid, lookup });
    return lookup;
  }

  private async build(containerId: string, bundle: string, initPid: number): Promise<ProfileLookup> {
    if (!existsSync(this.helper)) return { ok: false, reason: `${this.helper} is missing` };
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as unknown;
    const startTime = initStartTime(initPid);
    const cgroupDirs = cgroupDirsOf(readFileSync(`/proc/${initPid}/cgroup`, 'utf8'), cgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8')));
    const bpf = join(bundle, SECCOMP_FILE);
    const profile = buildExecProfile(spec, { containerId, initPid, initStartTime: startTime, cgroupDirs, seccompBpfPath: bpf });
    if (!profile.ok) return profile;
    if (profile.seccomp) {
      const rules = join(bundle, 'exec-seccomp.rules');
      writeFileAtomic(rules, profile.seccomp.rules, 0o600);
      await compileSeccomp(this.helper, rules, bpf);
    }
    const path = join(bundle, PROFILE_FILE);
    writeFileAtomic(path, encodeExecProfile(profile.records), 0o600);
    return { ok: true, path };
  }
}

const profilesByHelper = new Map<string, ExecProfiles>();

/** The daemon-wide profile cache of one helper binary. */
export function execProfilesFor(helper: string): ExecProfiles {
  let p = profilesByHelper.get(helper);
  if (!p) profilesByHelper.set(helper, (p = new ExecProfiles(helper)));
  return p;
}

/** The container's init pid as runc wrote it into the bundle (conmon's -p), 0 if unknown. */
export function initPidOf(bundle: string): number {
  try {
    return Number(readFileSync(join(bundle, 'pidfile'), 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}
