// One streaming exec: `runc exec --process` in the container, plain pipes without a tty; with a
// tty, nori-exec's tty mode (exec_fast_tty.ts), else a pty that runc relays to a terminal
// `script` provides. The exec'd process is found by the
// pid runc writes, so kill() ends it (and not the container).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync, constants as fsc } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OciRuntime } from '../runtime/oci_runtime';
import { readPidFile } from '../runtime/conmon';
import type { ExecProcess, StdioOptions } from '../streaming/types';
import { execProcessSpec } from './exec_process_spec';
import type { Logger } from '../log';
import { startFastTtyExec } from './exec_fast_tty';
import { execProfilesFor, initPidOf } from './exec_profile_host';
import { defaultExecHelper } from './exec_sync';

export interface ExecSessionInput {
  runtime: OciRuntime;
  containerId: string;
  bundle: string;
  cmd: string[];
  opts: StdioOptions;
  scriptPath?: string;
  /** nori-exec for a tty (no `script`, no runc); '' disables it. Default: the native build's. */
  helper?: string;
  log?: Logger;
}

/** A tty exec through nori-exec, or why not (nothing has run then). */
async function tryFastTty(i: ExecSessionInput, helper: string): Promise<ExecProcess | string> {
  const initPid = initPidOf(i.bundle);
  if (!initPid) return 'no init pid';
  const profiles = execProfilesFor(helper);
  const profile = await profiles.get(i.containerId, i.bundle, initPid);
  if (!profile.ok) return profile.reason;
  return startFastTtyExec(helper, profile.path, i.cmd, i.opts);
}

export async function startExec(i: ExecSessionInput): Promise<ExecProcess> {
  if (i.opts.tty && i.helper !== '') {
    const fast = await tryFastTty(i, i.helper ?? defaultExecHelper());
    if (typeof fast !== 'string') return fast;
    i.log?.debug({ container: i.containerId, reason: fast }, 'tty Exec through runc exec and script');
  }
  const dir = mkdtempSync(join(tmpdir(), 'nori-exec-'));
  try {
    const processJson = join(dir, 'process.json');
    writeFileSync(processJson, JSON.stringify(execProcessSpec(i.bundle, i.cmd, i.opts.tty)));
    const pidFile = join(dir, 'pid');
    const base = [...i.runtime.globalArgs(), 'exec', '--process', processJson, '--pid-file', pidFile];
    if (!i.opts.tty) return pipeExec(i, spawn(i.runtime.handler.path, [...base, i.containerId], { stdio: ['pipe', 'pipe', 'pipe'] }), pidFile, dir);
    return ttyExec(i, base, pidFile, dir);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('error', () => resolve(255));
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 9) : 255)));
  });
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  return (require('node:os') as typeof import('node:os')).constants.signals[sig];
}

function killPid(pidFile: string): void {
  const pid = readPidFile(pidFile);
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

function ended(s: NodeJS.ReadableStream | undefined | null): Promise<void> {
  if (!s) return Promise.resolve();
  return new Promise((resolve) => {
    s.once('end', () => resolve());
    s.once('close', () => resolve());
    s.once('error', () => resolve());
  });
}

function pipeExec(i: ExecSessionInput, child: ChildProcess, pidFile: string, dir: string): ExecProcess {
  child.stdin!.on('error', () => undefined);
  if (!i.opts.stdin) child.stdin!.end();
  const out = ended(child.stdout);
  const err = ended(child.stderr);
  const exit = exitOf(child);
  const waited = exit.then(async (exitCode) => {
    // A background child of the command may hold the pipes open: drain briefly, then stop.
    await Promise.race([Promise.all([out, err]), new Promise((r) => setTimeout(r, 200))]);
    child.stdout!.destroy();
    child.stderr!.destroy();
    rmSync(dir, { recursive: true, force: true });
    return { exitCode };
  });
  if (!i.opts.stdout) child.stdout!.resume();
  if (!i.opts.stderr) child.stderr!.resume();
  return {
    stdin: i.opts.stdin ? child.stdin! : undefined,
    stdout: i.opts.stdout ? child.stdout! : undefined,
    stderr: i.opts.stderr ? child.stderr! : undefined,
    resize() {
      /* no terminal */
    },
    wait: () => waited,
    kill() {
      if (child.exitCode !== null) return;
      killPid(pidFile);
    },
  };
}

// runc hands a pty master to a console socket only when it detaches, and then nobody can learn
// the exit code. Non-detached, runc relays the container's pty to its own stdio, but needs a
// terminal there: `script` provides one over our pipes and returns runc's exit code (-e).
function ttyExec(i: ExecSessionInput, base: string[], pidFile: string, dir: string): ExecProcess {
  const runc = [i.runtime.handler.path, ...base, '--tty', i.containerId].map(shellQuote).join(' ');
  const child = spawn(i.scriptPath ?? 'script', ['-q', '-e', '-c', runc, '/dev/null'], { stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdin!.on('error', () => undefined);
  // Without stdin, our end of script's input stays open: its end would be an EOF to the command.
  const out = ended(child.stdout);
  const exit = exitOf(child);
  const waited = exit.then(async (exitCode) => {
    await Promise.race([out, new Promise((r) => setTimeout(r, 200))]);
    child.stdout!.destroy();
    child.stdin!.destroy();
    rmSync(dir, { recursive: true, force: true });
    return { exitCode };
  });
  return {
    // script turns the end of its input into an EOF (Ctrl-D) for the terminal.
    stdin: i.opts.stdin ? child.stdin! : undefined,
    stdout: child.stdout!,
    resize(cols, rows) {
      // The first resize can come before runc wrote the pid file.
      if (!setWindowSize(pidFile, cols, rows)) setTimeout(() => setWindowSize(pidFile, cols, rows), 200);
    },
    wait: () => waited,
    kill() {
      if (child.exitCode !== null) return;
      killPid(pidFile);
    },
  };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// Node cannot TIOCSWINSZ an arbitrary fd: let stty do it on the exec'd process's terminal
// (its fd 0 is the pty slave).
function setWindowSize(pidFile: string, cols: number, rows: number): boolean {
  const pid = readPidFile(pidFile);
  if (!(cols > 0) || !(rows > 0)) return true;
  if (!pid) return false;
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/fd/0`, fsc.O_RDWR | fsc.O_NOCTTY);
  } catch {
    return true;
  }
  try {
    const c = spawn('stty', ['cols', String(cols), 'rows', String(rows)], { stdio: [fd, 'ignore', 'ignore'] });
    c.on('error', () => undefined); // no stty: the size stays as it was
  } finally {
    closeSync(fd);
  }
  return true;
}
