// A container's runtime state at start-up without asking the runtime. `runc state` is a Go
// start-up per container (≈ 15 ms of CPU): with hundreds of containers, recovery took seconds.
// What recovery needs to know is whether the init still runs and whether it was started, and
// nori recorded the init's pid and start time at create (runtime/proc_identity.ts); runc keeps
// the exec fifo in its state dir until the container is started. Only that case is answered
// here: anything else (no identity recorded, a dead init, no runc state dir, another runtime)
// goes to the runtime as before. The init's parent comes with it: under conmon it is the
// container's conmon (recovery/conmon_alive.ts uses that instead of reading conmon's /proc files).

import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadIdentity, parentIfSame, type ProcStatReader, readProcStat } from '../proc/identity';

export interface QuickStateInput {
  id: string;
  pid: number;
  /** the init.identity file in the bundle */
  identityFile: string;
  runtimePath: string;
  runtimeRoot: string;
}

export interface QuickState {
  status: 'running' | 'created';
  /** the verified init's parent pid, read in the same stat as its start time */
  initParent: number;
}

export function quickRuntimeState(c: QuickStateInput, read: ProcStatReader = readProcStat): QuickState | undefined {
  if (basename(c.runtimePath) !== 'runc') return undefined;
  const stateDir = join(c.runtimeRoot, c.id);
  if (!existsSync(join(stateDir, 'state.json'))) return undefined;
  const ident = loadIdentity(c.identityFile);
  if (!ident || ident.pid !== c.pid) return undefined;
  const initParent = parentIfSame(ident, read);
  if (initParent === undefined) return undefined;
  return { status: existsSync(join(stateDir, 'exec.fifo')) ? 'created' : 'running', initParent };
}
