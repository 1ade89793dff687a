// Starts the container monitor (conmon) without forking the daemon (native/src/monitor_spawn.cc:
// posix_spawn, a vfork-style clone), with stdin/stdout/stderr on /dev/null and a sync pipe on
// fd 3. Returns undefined where the addon lacks the functions, so callers fall back to
// child_process.spawn.

import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { loadAddon } from './native';
import { reapedOnExit } from './reap_poll';

interface MonitorSpawnAddon {
  spawnMonitor(path: string, argv: string[], env: string[], cwd: string): { pid: number; sync: number };
  reapChild(pid: number): number | null | undefined;
}

export interface SpawnedMonitor {
  pid: number;
  /** The read end of the pipe the monitor has on fd 3. */
  sync: Readable;
  /** Resolves once the spawned process has exited (conmon's first process exits as it daemonizes) and been reaped. */
  exited: Promise<void>;
}

let addon: MonitorSpawnAddon | null | undefined;

function native(): MonitorSpawnAddon | undefined {
  if (addon === undefined) {
    try {
      const a = loadAddon() as unknown as Partial<MonitorSpawnAddon>;
      addon = typeof a.spawnMonitor === 'function' && typeof a.reapChild === 'function' ? (a as MonitorSpawnAddon) : null;
    } catch {
      addon = null;
    }
  }
  return addon ?? undefined;
}

/** undefined: the addon cannot, use child_process. Throws (ENOENT, EACCES…) when the exec fails. */
export function spawnMonitor(path: string, argv: string[], env: Record<string, string>, cwd: string): SpawnedMonitor | undefined {
  const a = native();
  if (!a) return undefined;
  const c = a.spawnMonitor(path, [path, ...argv], Object.entries(env).map(([k, v]) => `${k}=${v}`), cwd);
  const exited = reapedOnExit((pid) => a.reapChild(pid), c.pid, 10);
  return { pid: c.pid, sync: new Socket({ fd: c.sync, readable: true, writable: false }), exited };
}
