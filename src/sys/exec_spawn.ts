// Starts nori-exec without forking the daemon (native/src/exec_spawn.cc: posix_spawn, a vfork-
// style clone) and from one sealed in-memory copy of it made on first use. Returns undefined
// where the addon lacks the functions, so callers fall back to child_process.spawn.

import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { loadAddon } from './native';
import { reapedOnExit } from './reap_poll';

interface ExecSpawnAddon {
  sealedExecCopy(path: string): number;
  spawnPiped(execFd: number, argv: string[]): { pid: number; stdout: number; stderr: number; status: number };
  reapChild(pid: number): number | null | undefined;
}

export interface PipedChild {
  pid: number;
  stdout: Readable;
  stderr: Readable;
  status: Readable;
  /** Resolves once the child has exited and been reaped. */
  exited: Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

let addon: ExecSpawnAddon | null | undefined;
const copies = new Map<string, number>();

function native(): ExecSpawnAddon | undefined {
  if (addon === undefined) {
    try {
      const a = loadAddon() as unknown as Partial<ExecSpawnAddon>;
      addon = typeof a.spawnPiped === 'function' && typeof a.sealedExecCopy === 'function' && typeof a.reapChild === 'function' ? (a as ExecSpawnAddon) : null;
    } catch {
      addon = null;
    }
  }
  return addon ?? undefined;
}

/** `helper argv...` with stdin on /dev/null and pipes on 1, 2 and 3; undefined: use child_process. */
export function spawnSealedHelper(helper: string, argv: string[]): PipedChild | undefined {
  const a = native();
  if (!a) return undefined;
  let fd = copies.get(helper);
  if (fd === undefined) {
    fd = a.sealedExecCopy(helper); // throws ENOENT/EACCES like spawn would
    copies.set(helper, fd);
  }
  const c = a.spawnPiped(fd, [helper, ...argv]);
  const wrap = (f: number) => new Socket({ fd: f, readable: true, writable: false });
  // The helper reports on fd 3 and then exits: it is already exiting when this starts to matter.
  const exited = reapedOnExit((pid) => a.reapChild(pid), c.pid, 50);
  return {
    pid: c.pid,
    stdout: wrap(c.stdout),
    stderr: wrap(c.stderr),
    status: wrap(c.status),
    exited,
    kill(signal) {
      try {
        process.kill(c.pid, signal);
      } catch {
        // gone
      }
    },
  };
}
