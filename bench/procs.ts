// /proc readers and exact-path cleanup helpers. Nothing here matches processes, mounts or links by a
// name pattern: callers pass the exact dirs/sockets they created, and only processes whose command
// line names one of those are counted.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Resident set size of a process in bytes (VmRSS), or undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Proportional set size in bytes (Pss from smaps_rollup): shared pages split among sharers. */
export function pssBytes(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parens: fields after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return undefined;
  }
}

export function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
  } catch {
    return [];
  }
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Processes whose executable name is `name` and whose argv mentions `needle` (a private path
 *  of ours: a socket, a state dir). */
export function findOwnProcesses(name: string, needle: string): number[] {
  return allPids().filter((pid) => comm(pid) === name && cmdline(pid).some((a) => a.includes(needle)));
}

/** Mount points at or below one of `roots`, deepest first (so they can be unmounted in order). */
export function mountsUnder(roots: string[]): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const points = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = f[4]!.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (roots.some((r) => mp === r || mp.startsWith(r.endsWith('/') ? r : `${r}/`))) points.add(mp);
  }
  return [...points].sort((a, b) => b.length - a.length);
}

export function unmountAll(roots: string[]): string[] {
  const failed: string[] = [];
  for (const mp of mountsUnder(roots)) {
    try {
      execFileSync('umount', ['-l', mp], { stdio: 'ignore' });
    } catch {
      failed.push(mp);
    }
  }
  return failed;
}

export function linkExists(name: string): boolean {
  try {
    readFileSync(`/sys/class/net/${name}/ifindex`);
    return true;
  } catch {
    return false;
  }
}

/** Deletes a network link by its exact name when it exists. */
export function deleteLink(name: string): void {
  if (!linkExists(name)) return;
  execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!alive(pid) || comm(pid) === undefined) return true;
    // a zombie child of ours counts as gone
    try {
      if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** cgroup directories (v1 controllers and the unified tree, 4 levels deep) whose name contains
 *  one of `ids` (pod and container IDs the bench created): what a runtime failed to remove. */
export function cgroupLeftovers(ids: Set<string>): string[] {
  if (ids.size === 0) return [];
  const out: string[] = [];
  const walk = (d: string, left: number) => {
    let ents: import('node:fs').Dirent[];
    try {
      ents = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      if (!e.isDirectory()) continue;
      const p = `${d}/${e.name}`;
      if ([...ids].some((id) => e.name.includes(id))) out.push(p);
      else if (left > 1) walk(p, left - 1);
    }
  };
  walk('/sys/fs/cgroup', 5);
  return out;
}

function nsPid(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** PID of a process inside its own PID namespace (last NSpid field). */
function innerPid(pid: number): number | undefined {
  try {
    const m = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]!.trim().split(/\s+/).pop()) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pod infrastructure processes behind the given monitors: PID 1 of each PID namespace that a
 * monitor's child lives in, other than the workload itself (comm `workload`). For containerd
 * that is the pause process; for nori its per-pod reaper when the pod shares a PID namespace.
 */
export function podInfraPids(monitors: number[], workload: string): number[] {
  const mon = new Set(monitors);
  const pids = allPids();
  const kids = pids.filter((p) => mon.has(parentPid(p) ?? -1));
  const spaces = new Set(kids.map(nsPid).filter((n): n is string => n !== undefined));
  return pids.filter((p) => {
    if (mon.has(p) || comm(p) === workload) return false;
    const ns = nsPid(p);
    return ns !== undefined && spaces.has(ns) && innerPid(p) === 1;
  });
}
