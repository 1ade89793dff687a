// The exec profile: everything nori-exec (native/exec/) applies to an ExecSync command, derived
// once per container from its config.json and its init process. A pure function, so what the
// fast path grants is testable without a container. Anything the helper cannot apply exactly as
// `runc exec` would (AppArmor/SELinux labels, fields it does not know) yields a
// reason instead, and ExecSync goes through runc.

import { ALL_CAPABILITIES } from './spec/capabilities';
import type { OciSeccomp } from './spec/seccomp';
import { seccompRules } from './exec_seccomp';

export const PROFILE_HEADER = 'nori-exec-profile 1';

/** What only the running container can tell (read by exec_profile_host.ts). */
export interface ExecProfileHost {
  containerId: string;
  initPid: number;
  /** Field 22 of /proc/<pid>/stat: the helper refuses a pid that has been reused. */
  initStartTime: string;
  /** Host cgroup directories of the init, one per hierarchy (its cgroup.procs is written). */
  cgroupDirs: string[];
  /** Where the compiled seccomp program will be, if the spec has one. */
  seccompBpfPath: string;
}

export type ExecProfile =
  | { ok: true; records: string[]; seccomp?: { rules: string } }
  | { ok: false; reason: string };

/** OCI namespace type → /proc/<pid>/ns name, in runc's join order (user first). */
const NAMESPACES: [string, string][] = [
  ['user', 'user'], ['ipc', 'ipc'], ['uts', 'uts'], ['network', 'net'], ['pid', 'pid'], ['mount', 'mnt'], ['cgroup', 'cgroup'],
];

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** process fields the helper applies; `terminal`/`consoleSize`/`args` are the exec's own. */
const PROCESS_KEYS = new Set([
  'terminal', 'consoleSize', 'user', 'args', 'env', 'cwd', 'capabilities', 'rlimits', 'noNewPrivileges', 'oomScoreAdj',
  'apparmorProfile', 'selinuxLabel',
]);
/** linux fields that concern the container's creation only, not a process joining it. */
const LINUX_KEYS = new Set([
  'namespaces', 'seccomp', 'resources', 'cgroupsPath', 'devices', 'maskedPaths', 'readonlyPaths', 'sysctl',
  'rootfsPropagation',
  // The maps of the user namespace the container joins by path: it has them already.
  'uidMappings', 'gidMappings',
]);

class Fallback extends Error {}

function need(cond: unknown, reason: string): asserts cond {
  if (!cond) throw new Fallback(reason);
}

/** runc's capability handling: names it does not know are ignored (it logs a warning). */
function capMask(names: unknown): string {
  let mask = 0n;
  for (const n of Array.isArray(names) ? names : []) {
    const bit = ALL_CAPABILITIES.indexOf(String(n));
    if (bit >= 0) mask |= 1n << BigInt(bit);
  }
  return mask.toString(16);
}

function uint(v: unknown, what: string): number {
  need(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= 0xffffffff, `${what} ${String(v)}`);
  return v;
}

/** runc's populateProcessEnvironment: every entry K=V, a repeated key keeps its first place. */
function environment(env: unknown): string[] {
  const out: string[] = [];
  const at = new Map<string, number>();
  for (const e of Array.isArray(env) ? env : []) {
    need(typeof e === 'string' && !e.includes('\0'), 'env entry with NUL');
    const eq = e.indexOf('=');
    need(eq > 0, `env entry ${JSON.stringify(e)} is not KEY=VALUE`);
    const i = at.get(e.slice(0, eq));
    if (i === undefined) {
      at.set(e.slice(0, eq), out.length);
      out.push(e);
    } else out[i] = e;
  }
  return out;
}

function rlimitValue(v: unknown): string {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
  // Past 2^53 JSON numbers lose digits; only "unlimited" (2^64-1) can be told apart safely.
  need(typeof v === 'number' && v >= 2 ** 64 - 2 ** 11, `rlimit value ${String(v)}`);
  return '18446744073709551615';
}

/** The host id container id 0 maps to (OCI LinuxIDMapping: containerID, hostID, size). */
function hostIdOfRoot(maps: unknown, what: string): number {
  for (const m of Array.isArray(maps) ? (maps as Array<Record<string, unknown>>) : []) {
    const c = uint(m.containerID, `${what} mapping`);
    const h = uint(m.hostID, `${what} mapping`);
    const n = uint(m.size, `${what} mapping`);
    if (c === 0 && n > 0) return h;
  }
  throw new Fallback(`the user namespace's ${what} map does not map 0`);
}

function build(spec: Record<string, any>, host: ExecProfileHost): ExecProfile {
  const p = spec.process as Record<string, any> | undefined;
  need(p && typeof p === 'object', 'no process in config.json');
  for (const k of Object.keys(p)) need(PROCESS_KEYS.has(k), `process.${k} is not supported`);
  need(!p.apparmorProfile, `AppArmor profile ${p.apparmorProfile}`);
  need(!p.selinuxLabel, 'SELinux label');
  const linux = (spec.linux ?? {}) as Record<string, any>;
  for (const k of Object.keys(linux)) need(LINUX_KEYS.has(k), `linux.${k} is not supported`);
  const path = (s: unknown, what: string) => {
    need(typeof s === 'string' && !s.includes('\0'), what);
    return s;
  };

  const rec: string[] = [`init=${host.initPid}:${host.initStartTime}`];
  const types = new Set<string>();
  for (const ns of (linux.namespaces ?? []) as { type: string }[]) {
    need(NAMESPACES.some(([t]) => t === ns.type), `${ns.type} namespace`);
    types.add(ns.type);
  }
  for (const [type, name] of NAMESPACES) if (types.has(type)) rec.push(`ns=${name}`);
  for (const d of host.cgroupDirs) rec.push(`cgroup=${path(d, 'cgroup path')}`);
  if (p.oomScoreAdj !== undefined) {
    need(Number.isInteger(p.oomScoreAdj) && p.oomScoreAdj >= -1000 && p.oomScoreAdj <= 1000, 'oomScoreAdj');
    rec.push(`oom=${p.oomScoreAdj}`);
  }
  need(/^[0-9a-f]+$/.test(host.containerId), 'container id');
  rec.push(`keyring=_ses.${host.containerId}`);
  if (p.noNewPrivileges === true) rec.push('nnp=1');

  const user = (p.user ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(user)) need(['uid', 'gid', 'umask', 'additionalGids', 'username'].includes(k), `process.user.${k}`);
  if (user.umask !== undefined) rec.push(`umask=${uint(user.umask, 'umask').toString(8)}`);
  rec.push(`uid=${uint(user.uid ?? 0, 'uid')}`, `gid=${uint(user.gid ?? 0, 'gid')}`);
  const groups = Array.isArray(user.additionalGids) ? user.additionalGids.map((g) => uint(g, 'additional gid')) : [];
  rec.push(`groups=${groups.join(',')}`);
  if (types.has('user')) {
    // runc gives the exec's stdio pipes to the user namespace's root (its host ids).
    rec.push(`rootuid=${hostIdOfRoot(linux.uidMappings, 'uid')}`, `rootgid=${hostIdOfRoot(linux.gidMappings, 'gid')}`);
  }

  const caps = (p.capabilities ?? {}) as Record<string, unknown>;
  for (const [k, key] of [['bounding', 'bnd'], ['effective', 'eff'], ['permitted', 'prm'], ['inheritable', 'inh'], ['ambient', 'amb']]) {
    rec.push(`cap.${key}=${capMask(caps[k!])}`);
  }
  for (const r of (p.rlimits ?? []) as { type: string; soft: unknown; hard: unknown }[]) {
    const res = RLIMITS[r.type];
    need(res !== undefined, `rlimit ${r.type}`);
    rec.push(`rlimit=${res}:${rlimitValue(r.soft)}:${rlimitValue(r.hard)}`);
  }
  const cwd = path(p.cwd ?? '/', 'cwd');
  need(cwd.startsWith('/'), `cwd ${cwd} is not absolute`);
  rec.push(`cwd=${cwd}`);
  for (const e of environment(p.env)) rec.push(`env=${e}`);

  let seccomp: { rules: string } | undefined;
  if (linux.seccomp) {
    const r = seccompRules(linux.seccomp as OciSeccomp & Record<string, unknown>);
    need(r.ok, r.ok ? '' : r.reason);
    rec.push(`seccomp=${path(host.seccompBpfPath, 'seccomp path')}`);
    if (r.flags) rec.push(`seccomp.flags=${r.flags}`);
    seccomp = { rules: r.text };
  }
  return seccomp ? { ok: true, records: rec, seccomp } : { ok: true, records: rec };
}

/** The profile of a container from its config.json (parsed) and its running init. */
export function buildExecProfile(spec: unknown, host: ExecProfileHost): ExecProfile {
  try {
    if (typeof spec !== 'object' || spec === null) return { ok: false, reason: 'config.json is not an object' };
    return build(spec as Record<string, any>, host);
  } catch (e) {
    if (e instanceof Fallback) return { ok: false, reason: e.message };
    throw e;
  }
}

/** The file nori-exec reads: the header, then each record, all NUL-terminated. */
export function encodeExecProfile(records: string[]): Buffer {
  return Buffer.from([PROFILE_HEADER, ...records].map((r) => r + '\0').join(''), 'utf8');
}
