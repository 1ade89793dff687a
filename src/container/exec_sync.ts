// ExecSync. The fast path (exec_fast.ts) runs the command through nori-exec, which joins the
// container and applies its whole process spec itself, the way `runc exec` does, without a runc
// process per call. Whatever the helper cannot apply — or a helper that is missing — goes
// through `runc exec`: the process inherits the container's whole process spec (user, env, cwd,
// capabilities, seccomp) with only args replaced. Either way a timeout kills the exec'd process,
// never the container, and the call fails DeadlineExceeded.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DeadlineExceededError, InternalError, errorMessage } from '../errors';
import type { Logger } from '../log';
import type { OciRuntime } from '../runtime/oci_runtime';
import { readPidFile } from '../runtime/conmon';
import { nativeBuildDir } from '../sys/native';
import { execProcessSpec } from './exec_process_spec';
import { runFast } from './exec_fast';
import { execProfilesFor, initPidOf } from './exec_profile_host';

export const EXEC_OUTPUT_CAP = 16 << 20;

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface ExecSyncOptions {
  /** The container's init pid (its row's); read from the bundle's pidfile when absent. */
  initPid?: number;
  log?: Logger;
  /** The nori-exec binary; '' takes `runc exec` always. Default: nori-exec of the native build. */
  helper?: string;
}

export function defaultExecHelper(): string {
  return join(nativeBuildDir(), 'nori-exec');
}

export async function execSync(
  runtime: OciRuntime,
  id: string,
  bundle: string,
  cmd: string[],
  timeoutSec: number,
  opts: ExecSyncOptions = {},
): Promise<ExecSyncResult> {
  const helper = opts.helper ?? defaultExecHelper();
  const why = helper ? await tryFast(helper, id, bundle, cmd, timeoutSec, opts) : 'fast path disabled';
  if (typeof why !== 'string') return why;
  opts.log?.debug({ container: id, reason: why }, 'ExecSync through runc exec');
  return execSyncViaRuntime(runtime, id, bundle, cmd, timeoutSec);
}

/** The result, or why the command has to go through the runtime instead (it has not run). */
async function tryFast(
  helper: string,
  id: string,
  bundle: string,
  cmd: string[],
  timeoutSec: number,
  opts: ExecSyncOptions,
): Promise<ExecSyncResult | string> {
  const profiles = execProfilesFor(helper);
  const initPid = opts.initPid || initPidOf(bundle);
  if (!initPid) return 'no init pid';
  const profile = await profiles.get(id, bundle, initPid);
  if (!profile.ok) return profile.reason;
  let outcome;
  try {
    outcome = await runFast(helper, profile.path, cmd, timeoutSec, capture);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EACCES') return `nori-exec: ${errorMessage(e)}`;
    throw e;
  }
  switch (outcome.kind) {
    case 'exit':
      return { stdout: outcome.stdout, stderr: outcome.stderr, exitCode: outcome.exitCode };
    case 'timeout':
      throw timeoutError(cmd, timeoutSec);
    case 'setup-failed':
      // Also a missing executable or a missing cwd: runc then reports it in its own words.
      if (/^open (\/proc\/|profile)|no longer the container's init/.test(outcome.reason)) profiles.invalidate(bundle);
      return outcome.reason;
  }
}

function timeoutError(cmd: string[], timeoutSec: number): DeadlineExceededError {
  return new DeadlineExceededError(`command ${JSON.stringify(cmd)} timed out after ${timeoutSec}s`);
}

/** ExecSync through `<runtime> exec --process`. */
export async function execSyncViaRuntime(
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
    // fast path does not have this). Drain briefly, then stop reading.
    await Promise.race([Promise.all([out.done, err.done]), new Promise((r) => setTimeout(r, 100))]);
    child.stdout!.destroy();
    child.stderr!.destroy();
    if (timedOut) throw timeoutError(cmd, timeoutSec);
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
