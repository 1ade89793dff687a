// Whether the conmon of a container still runs. Its pid file is in the bundle; the pid is only
// believed when that process's command line names the container (`-c <id>`), so a pid reused by
// an unrelated process after a crash or reboot is never mistaken for it (nor killed).

import { isSameProcess } from '../proc/identity';
import { conmonPidFile, readPidFile } from '../runtime/conmon';

/** The conmon pid of container `id` with bundle `bundle`, when that conmon is alive. */
export function liveConmonPid(bundle: string, id: string): number | undefined {
  const pid = readPidFile(conmonPidFile(bundle));
  if (!pid) return undefined;
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
