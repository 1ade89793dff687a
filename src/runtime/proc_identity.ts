// A pid names a process only while that process lives: once it has exited (and certainly across
// a nori restart or a reboot) the number may belong to any new process. So a pid nori keeps is
// trusted only together with the process's start time — field 22 of /proc/<pid>/stat, in clock
// ticks since boot — which a process that reuses the pid does not share.

import { readFileSync, writeFileSync } from 'node:fs';

export interface ProcIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22, as text (it can exceed 2^53 in theory). */
  startTime: string;
}

/** Reads /proc/<pid>/stat; undefined when there is no such process. Injectable for tests. */
export type ProcStatReader = (pid: number) => string | undefined;

export const readProcStat: ProcStatReader = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
};

/** State (field 3) and start time (field 22) of a stat line; the comm field may hold spaces and ')'. */
export function parseProcStat(text: string): { state: string; startTime: string } | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).trim().split(/\s+/); // rest[0] is field 3
  const state = rest[0];
  const startTime = rest[22 - 3];
  if (!state || !startTime || !/^\d+$/.test(startTime)) return undefined;
  return { state, startTime };
}

/** The identity of a live process now, or undefined if it is gone (or a zombie). */
export function identify(pid: number, read: ProcStatReader = readProcStat): ProcIdentity | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const text = read(pid);
  const st = text === undefined ? undefined : parseProcStat(text);
  if (!st || st.state === 'Z' || st.state === 'X') return undefined;
  return { pid, startTime: st.startTime };
}

/** Whether `id` still names the same live process (not exited, not reaped and reused). */
export function stillRunning(id: ProcIdentity, read: ProcStatReader = readProcStat): boolean {
  return identify(id.pid, read)?.startTime === id.startTime;
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
