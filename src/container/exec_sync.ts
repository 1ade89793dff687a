// ExecSync through `runc exec`: the process inherits the container's whole process spec (user,
// env, cwd, capabilities, seccomp) with only args replaced. On timeout the exec'd process is
// killed by the pid runc wrote — never the container — and the call fails DeadlineExceeded.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DeadlineExceededError, InternalError } from '../errors';
import type { OciRuntime } from '../runtime/oci_runtime';
import { readPidFile } from '../runtime/conmon';
import { execProcessSpec } from './exec_process_spec';

export const EXEC_OUTPUT_CAP = 16 << 20;

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export async function execSync(
  runtime: OciRuntime,
  id: string,
  bundle: string,
  cmd: string[],
  timeoutSec: number,
): Promise<ExecSyncResult> {
  const processSpec = execProcessSpec(bundle, cmd, false);
  const dir = mkdtempSync(join(tmpdir(), 'nori-exec-'));
  try {
    const processJson = join(dir, 'process.json');
    writeFileSync(processJson, JSON.stringify(processSpec));
    const pidFile = join(dir, 'pid');
    const child = runtime.spawnExec(id, processJson, pidFile);
    const out = capture(child.stdout!);
    const err = capture(child.stderr!);
    let timedOut = false;
    let forceKill: NodeJS.Timeout | undefined;
    const timer =
      timeoutSec > 0
        ? setTimeout(() => {
            timedOut = true;
            const pid = readPidFile(pidFile);
            if (pid) killQuietly(pid);
            // runc reaps the killed process (else it would stay a zombie under the container's
            // init); only if runc has not written the pid yet, or lingers, is runc itself ended.
            if (!pid) child.kill('SIGKILL');
            else forceKill = setTimeout(() => child.kill('SIGKILL'), 2000);
          }, timeoutSec * 1000)
        : undefined;
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    if (timer) clearTimeout(timer);
    if (forceKill) clearTimeout(forceKill);
    // Non-detached `runc exec` relays output through its own pipes and exits only once every
    // holder closed them, so a background child keeps the call going until the timeout (the
    // native exec path of the streaming work removes this). Drain briefly, then stop reading.
    await Promise.race([Promise.all([out.done, err.done]), new Promise((r) => setTimeout(r, 100))]);
    child.stdout!.destroy();
    child.stderr!.destroy();
    if (timedOut) throw new DeadlineExceededError(`command ${JSON.stringify(cmd)} timed out after ${timeoutSec}s`);
    if (exit.code === null) throw new InternalError(`runc exec ended by ${exit.signal}`);
    const stderr = err.buffer();
    // runc's own failure (e.g. executable not found) surfaces as exit 255 and its message on stderr.
    return { stdout: out.buffer(), stderr, exitCode: exit.code };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function capture(stream: NodeJS.ReadableStream) {
  const chunks: Buffer[] = [];
  let size = 0;
  const done = new Promise<void>((resolve) => {
    stream.on('data', (d: Buffer) => {
      if (size >= EXEC_OUTPUT_CAP) return;
      const take = d.subarray(0, EXEC_OUTPUT_CAP - size);
      chunks.push(take);
      size += take.length;
    });
    stream.on('end', () => resolve());
    stream.on('close', () => resolve());
    stream.on('error', () => resolve());
  });
  return { done, buffer: () => Buffer.concat(chunks) };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}
