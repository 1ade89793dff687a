// Runs one ExecSync command through nori-exec (native/exec/main.c). The helper forwards the
// command's output to its own stdout/stderr until the command exits and reports its status on
// fd 3 right then, so a background child still holding the command's stdout cannot hold the call. The helper enforces
// the timeout by killing the command's process group; the timer here is only a backstop.

import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { InternalError } from '../errors';
import { spawnSealedHelper, type PipedChild } from '../sys/exec_spawn';

export type FastOutcome =
  | { kind: 'exit'; exitCode: number; stdout: Buffer; stderr: Buffer }
  | { kind: 'timeout' }
  /** The command never started: safe to run it another way. */
  | { kind: 'setup-failed'; reason: string };

export interface Capture {
  done: Promise<void>;
  buffer(): Buffer;
}

/** The helper without forking the daemon where the addon can (sys/exec_spawn.ts), else child_process. */
function startHelper(helper: string, args: string[]): PipedChild {
  const fast = spawnSealedHelper(helper, args);
  if (fast) return fast;
  const c = spawn(helper, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve, reject) => {
    c.once('error', reject);
    c.once('exit', () => resolve());
  });
  return { pid: c.pid ?? 0, stdout: c.stdout!, stderr: c.stderr!, status: c.stdio[3] as Readable, exited, kill: (s) => void c.kill(s) };
}

export async function runFast(
  helper: string,
  profile: string,
  cmd: string[],
  timeoutSec: number,
  capture: (s: NodeJS.ReadableStream) => Capture,
): Promise<FastOutcome> {
  const child = startHelper(helper, ['run', profile, String(Math.max(0, Math.floor(timeoutSec))), ...cmd]);
  const out = capture(child.stdout);
  const err = capture(child.stderr);
  const statusStream = child.status;
  let status = '';
  statusStream.setEncoding('utf8');
  statusStream.on('data', (d: string) => (status += d));
  const statusDone = new Promise<void>((r) => {
    statusStream.once('end', r);
    statusStream.once('close', r);
    statusStream.once('error', () => r());
  });
  let commandPid = 0;
  let backstopFired = false;
  const backstop =
    timeoutSec > 0
      ? setTimeout(() => {
          backstopFired = true;
          child.kill('SIGKILL');
          const pid = commandPid || Number(/^pid (\d+)$/m.exec(status)?.[1] ?? 0);
          for (const target of pid ? [-pid, pid] : []) {
            try {
              process.kill(target, 'SIGKILL');
            } catch {
              /* gone */
            }
          }
        }, timeoutSec * 1000 + 5000)
      : undefined;
  try {
    await child.exited;
    await statusDone;
  } finally {
    if (backstop) clearTimeout(backstop);
  }
  commandPid = Number(/^pid (\d+)$/m.exec(status)?.[1] ?? 0);
  // Whatever the command left behind may hold stdout open: drain briefly, then stop reading.
  await Promise.race([Promise.all([out.done, err.done]), new Promise((r) => setTimeout(r, 100))]);
  child.stdout.destroy();
  child.stderr.destroy();

  const last = status.trimEnd().split('\n').pop() ?? '';
  let m: RegExpExecArray | null;
  if ((m = /^exit (\d+)$/.exec(last))) return { kind: 'exit', exitCode: Number(m[1]), stdout: out.buffer(), stderr: err.buffer() };
  // runc exec reports a command killed by a signal as 128 + the signal.
  if ((m = /^signal (\d+)$/.exec(last))) return { kind: 'exit', exitCode: 128 + Number(m[1]), stdout: out.buffer(), stderr: err.buffer() };
  if (last === 'timeout' || backstopFired) return { kind: 'timeout' };
  // The setup record ends the status, and its message may span lines (a command name with a
  // newline in it): everything after "setup " is the reason.
  const setup = /^setup ([\s\S]*)$/m.exec(status.trimEnd());
  if (setup) return { kind: 'setup-failed', reason: setup[1]! };
  if (!commandPid) return { kind: 'setup-failed', reason: `nori-exec ended without a status (${JSON.stringify(status)})` };
  throw new InternalError(`nori-exec ended without reporting how the command ended (status ${JSON.stringify(status)})`);
}
