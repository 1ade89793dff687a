// The one reader of /proc/self/limits: the hard limits are what containers inherit by default
// (node_defaults.ts), the soft open-files limit is what the daemon may hold open itself (Node
// raises it to the hard limit at start).

import { readFileSync } from 'node:fs';

const LIMIT_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** "unlimited" as a number: 2^64-1, as the kernel's RLIM_INFINITY (a JS number rounds it). */
export const RLIM_INFINITY = 18446744073709551615;

export interface Rlimit {
  soft: number;
  hard: number;
}

/** Each limit of a /proc/PID/limits text by its RLIMIT_ name ("Max open files  1024  20000  files"). */
export function parseRlimits(text: string): Record<string, Rlimit> {
  const out: Record<string, Rlimit> = {};
  const num = (s: string | undefined) => (s === 'unlimited' ? RLIM_INFINITY : s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);
  for (const line of text.split('\n')) {
    const name = Object.keys(LIMIT_NAMES).find((n) => line.startsWith(n));
    if (!name) continue;
    const [soft, hard] = line.slice(name.length).trim().split(/\s+/).map(num);
    if (soft !== undefined && hard !== undefined) out[LIMIT_NAMES[name]!] = { soft, hard };
  }
  return out;
}

export const readSelfLimits = (): string => readFileSync('/proc/self/limits', 'utf8');

/** This process's soft limit on open files; undefined when it cannot be read. */
export function openFilesLimit(read: () => string = readSelfLimits): number | undefined {
  try {
    return parseRlimits(read()).RLIMIT_NOFILE?.soft;
  } catch {
    return undefined;
  }
}
