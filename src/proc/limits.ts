// The one reader of /proc/self/limits. Node raises its soft RLIMIT_NOFILE to the hard limit at
// start, so the soft limit read here is what the daemon may really hold open.

import { readFileSync } from 'node:fs';

/** "Max open files  <soft>  <hard>  files": the soft limit; undefined when absent or "unlimited". */
export function parseOpenFilesLimit(text: string): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith('Max open files')) continue;
    const soft = line.slice('Max open files'.length).trim().split(/\s+/)[0] ?? '';
    return /^\d+$/.test(soft) ? Number(soft) : undefined;
  }
  return undefined;
}

/** This process's soft limit on open files; undefined when it cannot be read. */
export function openFilesLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | undefined {
  try {
    return parseOpenFilesLimit(read());
  } catch {
    return undefined;
  }
}
