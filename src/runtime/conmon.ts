// conmon 2.1.6: one monitor per container. It daemonizes (the process we spawn exits at once and
// the monitor is re-parented), runs `<runtime> create`, reports the container pid or the
// runtime's error on the sync pipe (fd 3, `_OCI_SYNCPIPE`), then writes the exit code to
// <exit-dir>/<id> when the container ends. Protocol as CRI-O's internal/oci/runtime_oci.go.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, openSync, closeSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { FailedPreconditionError, InternalError } from '../errors';
import type { OciRuntime } from './oci_runtime';
import { identify, signalIfSame, type ProcIdentity } from '../proc/identity';
import { spawnMonitor, type SpawnedMonitor } from '../sys/monitor_spawn';

export interface ConmonCreateOptions {
  conmonPath: string;
  runtime: OciRuntime;
  id: string;
  name: string;
  bundle: string;
  logPath: string;
  exitDir: string;
  socketDir: string;
  terminal?: boolean;
  stdin?: boolean;
  stdinOnce?: boolean;
  logLevel?: string;
  /** The runtime runs with --systemd-cgroup (the systemd cgroup driver). */
  systemdCgroup?: boolean;
  timeoutMs?: number;
  /** Told when each phase ends (the caller's step timer: where CreateContainer's time goes). */
  step?: (name: string) => void;
}

export interface ConmonCreated {
  pid: number;
  conmonPid: number;
  /** The container init's pid with its start time, taken as soon as conmon reported it. */
  init?: ProcIdentity;
}

export function conmonPidFile(bundle: string): string {
  return join(bundle, 'conmon.pid');
}

/** Parses what conmon wrote on the sync pipe: `{"data": pid}` or `{"data": -1, "message": "..."}`. */
export function parseSyncMessage(text: string): { pid: number; message?: string } {
  const line = text.split('\n').find((l) => l.trim() !== '');
  if (!line) throw new InternalError('conmon closed the sync pipe without reporting a pid');
  const msg = JSON.parse(line) as { data?: number; pid?: number; message?: string };
  const pid = msg.data ?? msg.pid ?? -1;
  return msg.message !== undefined ? { pid, message: msg.message } : { pid };
}

export async function conmonCreate(o: ConmonCreateOptions): Promise<ConmonCreated> {
  mkdirSync(join(o.bundle, 'persist'), { recursive: false, mode: 0o700 });
  const args = [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.id,
    '-n', o.name,
    '-r', o.runtime.handler.path,
    '-b', o.bundle,
    '-p', join(o.bundle, 'pidfile'),
    '-P', conmonPidFile(o.bundle),
    '--persist-dir', join(o.bundle, 'persist'),
    '--exit-dir', o.exitDir,
    '--socket-dir-path', o.socketDir,
    '-l', `k8s-file:${o.logPath}`,
    '--log-level', o.logLevel ?? 'info',
    ...o.runtime.globalArgs().flatMap((a) => ['--runtime-arg', a]),
  ];
  // The container's cgroup is a systemd scope: conmon finds it (for OOM watching) that way.
  if (o.systemdCgroup) args.push('--systemd-cgroup');
  if (o.terminal) args.push('-t');
  if (o.stdin) {
    args.push('-i');
    if (!o.stdinOnce) args.push('--leave-stdin-open');
  }
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3' };
  const started = startMonitor(o.conmonPath, args, env, o.bundle);
  o.step?.('runtime.spawn');
  const sync = started.sync;
  const timeoutMs = o.timeoutMs ?? 60_000;
  const text = await new Promise<string>((resolve) => {
    let buf = '';
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      sync.destroy();
      resolve(buf);
    };
    sync.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (buf.includes('\n')) finish();
    });
    sync.on('end', finish);
    sync.on('error', finish);
  });
  o.step?.('runtime.create');
  // The spawned process exits right after daemonizing (it writes conmon.pid first); wait so it
  // is reaped and the pid file is there.
  await started.exited;
  const spawnError = started.error();
  if (spawnError) throw new InternalError(`cannot start conmon ${o.conmonPath}: ${spawnError.message}`);
  const conmonPid = readPidFile(conmonPidFile(o.bundle));
  const conmon = conmonPid ? identify(conmonPid) : undefined;
  let parsed: { pid: number; message?: string };
  try {
    parsed = parseSyncMessage(text);
  } catch (e) {
    killConmon(conmon);
    throw text === '' ? new InternalError(`conmon did not report the container within ${timeoutMs} ms`) : e;
  }
  if (parsed.pid <= 0) {
    killConmon(conmon);
    throw createFailure((parsed.message ?? 'unknown error').trim());
  }
  const init = identify(parsed.pid);
  o.step?.('runtime.reaped');
  return { pid: parsed.pid, conmonPid: conmonPid ?? 0, ...(init ? { init } : {}) };
}

interface StartedMonitor {
  sync: Readable;
  exited: Promise<void>;
  /** Why the monitor could not be started, once `exited` has resolved. */
  error(): Error | undefined;
}

/**
 * conmon with stdio on /dev/null (the monitor outlives our pipes and must not get SIGPIPE) and
 * the sync pipe on fd 3: through posix_spawn where the addon has it (no fork of the daemon:
 * sys/monitor_spawn.ts), else child_process.
 */
function startMonitor(path: string, args: string[], env: Record<string, string>, cwd: string): StartedMonitor {
  let native: SpawnedMonitor | undefined;
  try {
    native = spawnMonitor(path, args, env, cwd);
  } catch (e) {
    const err = e as Error;
    return { sync: Readable.from([]), exited: Promise.resolve(), error: () => err };
  }
  if (native) {
    const reaped = native.exited;
    // A monitor that never exits its first process is killed after 5 s, as below.
    const exited = new Promise<void>((r) => {
      const t = setTimeout(() => signalPid(native.pid, 'SIGKILL'), 5000);
      void reaped.then(() => {
        clearTimeout(t);
        r();
      });
    });
    return { sync: native.sync, exited, error: () => undefined };
  }
  const child = spawn(path, args, { cwd, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env });
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(t);
      r();
    });
    child.once('error', () => {
      clearTimeout(t);
      r();
    });
  });
  return { sync: child.stdio[3] as Socket, exited, error: () => spawnError };
}

function signalPid(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

export function readPidFile(path: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Only the conmon we started: a pid that has since been reused is left alone. */
function killConmon(conmon: ProcIdentity | undefined): void {
  if (conmon) signalIfSame(conmon, 'SIGKILL');
}

/** conmon's control FIFO: "<type> <height> <width>\n"; type 2 reopens the log file. */
export function reopenLog(bundle: string): void {
  // O_NONBLOCK: fails with ENXIO instead of hanging when conmon is gone.
  const fd = openSync(join(bundle, 'ctl'), fsc.O_WRONLY | fsc.O_NONBLOCK);
  try {
    writeFileSync(fd, '2 0 0\n');
  } finally {
    closeSync(fd);
  }
}

/**
 * The runtime's refusal of a process the image cannot run: Go's exec.LookPath as runc 1.1 reports
 * it, in its logrus line (quotes escaped) or bare (`exec: "x": executable file not found in $PATH`, `exec: "/x": stat /x: no such file or
 * directory`, `exec: "/x": permission denied`) and crun's `executable file \`x\` not found in $PATH`.
 */
const PROCESS_NOT_RUNNABLE = /exec: \\?"[^"\\]*\\?": (executable file not found in \$PATH|stat [^\n]*: no such file or directory|permission denied)|executable file `[^`]*` not found in \$PATH/;

/**
 * A failed create as the error it is: a command the image does not have is the request's doing
 * (FAILED_PRECONDITION, as for any state the request does not fit), anything else nori's (INTERNAL).
 */
export function createFailure(message: string): Error {
  if (PROCESS_NOT_RUNNABLE.test(message)) return new FailedPreconditionError(`container create failed: the command cannot be run in this image: ${message}`);
  return new InternalError(`container create failed: ${message}`);
}
