// `runc start` is a Go program's start-up (≈ 50 ms here, most of StartContainer) wrapped around
// one action: opening the container's exec.fifo, which releases `runc init` (blocked opening its
// write end), reading the "0" it writes just before it execs the container's process, and removing
// the fifo (runc reports a container whose fifo is gone as running). This does the same in-process.
// Only for runc; when the fifo is not where runc 1.x keeps it, the caller runs `runc start`.

import { constants, openSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { InternalError } from '../errors';
import { identify } from '../proc/identity';

/** false: no exec.fifo (not runc's layout, or already started): use the runtime's own start. */
export async function startViaExecFifo(containerStateDir: string, initPid: number, timeoutMs = 30_000): Promise<boolean> {
  const fifo = join(containerStateDir, 'exec.fifo');
  let fd: number;
  try {
    // O_RDWR never blocks on a fifo (runc opens it blocking, in a goroutine); being a writer too
    // also means no EOF when init closes its end, only the byte or nothing.
    fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const pipe = new Socket({ fd, readable: true, writable: false });
  try {
    const got = await new Promise<string>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      let settled = false;
      const settle = (f: () => void) => {
        if (settled) return;
        settled = true;
        clearInterval(check);
        f();
      };
      // As runc does: while waiting, make sure init is still there to write.
      const check = setInterval(() => {
        if (!identify(initPid)) {
          // init writes its "0" just before it execs the container's process, and a short job
          // may have exited since: on a busy daemon this timer can run before the loop reads the
          // byte waiting in the pipe. An immediate runs after the loop's I/O poll, so a waiting
          // byte wins; only an init that never wrote is "died".
          setImmediate(() => settle(() => reject(new InternalError(`container init ${initPid} died before it was started`))));
        } else if (Date.now() > deadline) {
          settle(() => reject(new InternalError(`container init ${initPid} did not take the start signal within ${timeoutMs} ms`)));
        }
      }, 100);
      pipe.once('data', (d: Buffer) => settle(() => resolve(d.toString('latin1'))));
      pipe.once('error', (e) => settle(() => reject(e)));
    });
    if (got[0] !== '0') throw new InternalError(`unexpected ${JSON.stringify(got)} on ${fifo}`);
  } finally {
    pipe.destroy();
  }
  try {
    unlinkSync(fifo);
  } catch (e) {
    // A short job can exit before this line, and nori releases an exited container's runtime
    // state with the exit (ContainerManager.releaseAfterExit): the fifo went with it.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return true;
}
