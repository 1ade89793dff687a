// The one pid-identity guard. A pid names a process only while that process lives: once it has
// exited (and certainly across a nori restart or a reboot) the number may belong to any new
// process. So a pid nori keeps is trusted only with evidence that the process is still the one it
// meant, and every caller asks the same question here: is the process alive (not a zombie), and
// does it match everything the caller knows of it — its start time (field 22 of stat, which a
// process reusing the pid does not share), its command line, the PID namespace it lives in.

import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { exited, procStat, readProcStat, type ProcStatReader } from './stat';

export { parseProcStat, readProcStat, type ProcStatReader } from './stat';

export interface ProcIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22, as text. */
  startTime: string;
}

/** What a caller knows about the process it means; every given piece must match. */
export interface ProcEvidence {
  startTime?: string;
  /** a test of the process's argv (e.g. conmon's `-c <container id>`) */
  argv?: (argv: string[]) => boolean;
  /** a file (a pinned /proc/<pid>/ns/pid) whose inode the process's PID namespace must be */
  pidNamespace?: string;
}

/** The identity of a live process now, or undefined if it is gone (or a zombie). */
export function identify(pid: number, read: ProcStatReader = readProcStat): ProcIdentity | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const st = procStat(pid, read);
  if (!st || exited(st.state)) return undefined;
  return { pid, startTime: st.startTime };
}

/** Whether `pid` is alive and matches all of `evidence`. */
export function isSameProcess(pid: number, evidence: ProcEvidence, read: ProcStatReader = readProcStat): boolean {
  const now = identify(pid, read);
  if (!now) return false;
  if (evidence.startTime !== undefined && now.startTime !== evidence.startTime) return false;
  try {
    if (evidence.argv && !evidence.argv(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'))) return false;
    if (evidence.pidNamespace !== undefined) {
      const a = statSync(`/proc/${pid}/ns/pid`);
      const b = statSync(evidence.pidNamespace);
      if (a.ino !== b.ino || a.dev !== b.dev) return false;
    }
  } catch {
    return false; // gone meanwhile, or the evidence cannot be read
  }
  return true;
}

/** Whether `id` still names the same live process (not exited, not reaped and reused). */
export function stillRunning(id: ProcIdentity, read: ProcStatReader = readProcStat): boolean {
  return isSameProcess(id.pid, { startTime: id.startTime }, read);
}

/**
 * The parent pid of `id` while `id` still names the same live process, else undefined: both
 * from one read of its stat, so the parent is the one of the process the start time proves.
 */
export function parentIfSame(id: ProcIdentity, read: ProcStatReader = readProcStat): number | undefined {
  const st = procStat(id.pid, read);
  if (!st || exited(st.state) || st.startTime !== id.startTime) return undefined;
  return st.ppid;
}

/** Signals `id` only if it is still the same process; false when it is gone (nothing signalled). */
export function signalIfSame(
  id: ProcIdentity,
  signal: NodeJS.Signals,
  read: ProcStatReader = readProcStat,
  kill: (pid: number, signal: NodeJS.Signals) => void = process.kill,
): boolean {
  if (!stillRunning(id, read)) return false;
  try {
    kill(id.pid, signal);
    return true;
  } catch {
    return false;
  }
}

export function saveIdentity(path: string, id: ProcIdentity): void {
  writeFileSync(path, `${id.pid} ${id.startTime}\n`, { mode: 0o600 });
}

export function loadIdentity(path: string): ProcIdentity | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^(\d+) (\d+)\s*$/.exec(text);
  if (!m) return undefined;
  return { pid: Number(m[1]), startTime: m[2]! };
}
