// The one reader of /proc/<pid>/stat. Field 2 (comm) is in parentheses and may itself hold
// spaces and ')', so fields are counted from the last ')'.

import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** field 3: R S D Z X ... */
  state: string;
  /** field 4: the parent's pid (the real parent, in the reader's PID namespace) */
  ppid: number;
  /** field 22: start time in clock ticks since boot, as text (it can exceed 2^53 in theory) */
  startTime: string;
}

/** Reads /proc/<pid>/stat; undefined when there is no such process. Injectable for tests. */
export type ProcStatReader = (pid: number) => string | undefined;

export const readProcStat: ProcStatReader = (pid) => {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
};

/** State, parent and start time of a stat line; undefined when it does not parse. */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).trim().split(/\s+/); // rest[0] is field 3
  const state = rest[0];
  const ppid = rest[4 - 3];
  const startTime = rest[22 - 3];
  if (!state || !ppid || !/^\d+$/.test(ppid) || !startTime || !/^\d+$/.test(startTime)) return undefined;
  return { state, ppid: Number(ppid), startTime };
}

/** The parsed stat of `pid`, or undefined when it is gone or unreadable. */
export function procStat(pid: number, read: ProcStatReader = readProcStat): ProcStat | undefined {
  const text = read(pid);
  return text === undefined ? undefined : parseProcStat(text);
}

/** Whether a state means the process has exited (a zombie waiting for its parent, or dead). */
export const exited = (state: string): boolean => state === 'Z' || state === 'X';
