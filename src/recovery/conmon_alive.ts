// Whether the conmon of a container still runs. Its pid file is in the bundle; the pid is only
// believed when that process's command line names the container (`-c <id>`), so a pid reused by
// an unrelated process after a crash or reboot is never mistaken for it (nor killed).
//
// Start-up recovery has a cheaper proof for most containers: conmon is a child subreaper, so the
// container's init (whose identity recovery has just verified by pid and start time) is conmon's
// child. When that init's parent is the pid in the file, the file names a live process that is
// the init's parent: a process that took over a dead conmon's pid cannot be, since an orphan is
// only ever handed to a process that was alive when its parent died (a subreaper above it, or
// its PID namespace's init). That saves two /proc reads per container; without the match the
// command line decides, as before.

import { isSameProcess } from '../proc/identity';
import { conmonPidFile, readPidFile } from '../runtime/conmon';

/**
 * The conmon pid of container `id` with bundle `bundle`, when that conmon is alive.
 * `initParent`: the parent of the container's init, read with a verified identity of the init.
 */
export function liveConmonPid(bundle: string, id: string, initParent?: number): number | undefined {
  const pid = readPidFile(conmonPidFile(bundle));
  if (!pid) return undefined;
  if (initParent !== undefined && pid === initParent) return pid;
  const namesContainer = (argv: string[]) => {
    const i = argv.indexOf('-c');
    return i >= 0 && argv[i + 1] === id;
  };
  return isSameProcess(pid, { argv: namesContainer }) ? pid : undefined;
}

/** SIGKILLs a verified conmon and waits (bounded) until it is gone. */
export async function killConmon(bundle: string, id: string): Promise<void> {
  const pid = liveConmonPid(bundle, id);
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let i = 0; i < 200 && liveConmonPid(bundle, id); i++) await new Promise((r) => setTimeout(r, 10));
}
