// The OCI runtime CLI (runc, or crun through the same flags) of one handler, each call a child
// process with `--root <handler root>` so several daemons on one host never share state.

import { execFile, spawn } from 'node:child_process';
import { basename, join } from 'node:path';
import { FailedPreconditionError, InternalError, NotFoundError } from '../errors';
import { startViaExecFifo } from './exec_fifo_start';
import { deleteStoppedInProcess } from './stopped_delete';

export interface RuntimeHandler {
  name: string;
  path: string;
  options: string[];
  root: string;
}

export interface RuntimeState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
}

/** runc: "unable to set memory limit to N (current usage: ...)"; crun: a write of memory.limit_in_bytes failing with EBUSY. */
const MEMORY_LIMIT_REFUSED = /unable to set memory limit|memory\.(limit_in_bytes|memsw\.limit_in_bytes)[^\n]*(device or resource busy|EBUSY)/i;

export class OciRuntime {
  constructor(readonly handler: RuntimeHandler) {}

  /** The global options conmon passes with --runtime-arg. */
  globalArgs(): string[] {
    return [...this.handler.options, `--root=${this.handler.root}`];
  }

  run(args: string[], input?: string, timeoutMs = 60_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.handler.path,
        [...this.globalArgs(), ...args],
        { timeout: timeoutMs, maxBuffer: 16 << 20, killSignal: 'SIGKILL' },
        (err, stdout, stderr) => {
          if (err) {
            const text = (stderr || stdout || err.message).trim();
            if (/does not exist|not found/i.test(text) && /container/i.test(text)) reject(new NotFoundError(`${this.handler.name} ${args[0]}: ${text}`));
            else reject(new InternalError(`${this.handler.name} ${args[0]}: ${text}`));
          } else resolve(stdout);
        },
      );
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  /** With the init's pid, runc's start is done in-process (exec_fifo_start.ts); otherwise its CLI. */
  async start(id: string, initPid?: number): Promise<void> {
    if (initPid && basename(this.handler.path) === 'runc' && (await startViaExecFifo(join(this.handler.root, id), initPid))) return;
    await this.run(['start', id]);
  }

  kill(id: string, signal: string, all = false): Promise<string> {
    return this.run(['kill', ...(all ? ['--all'] : []), id, signal]);
  }

  /**
   * Deletes a container whose init has exited; runc's part is done in-process when it can be
   * (stopped_delete.ts), else by `delete --force`.
   */
  async deleteStopped(id: string, cgroupsPath: string): Promise<'in-process' | 'runtime'> {
    if (this.deleteStoppedInProcess(id, cgroupsPath)) return 'in-process';
    await this.delete(id);
    return 'runtime';
  }

  /** Only the in-process part of deleteStopped: false when it is not runc's or cannot be done so. */
  deleteStoppedInProcess(id: string, cgroupsPath: string): boolean {
    return basename(this.handler.path) === 'runc' && deleteStoppedInProcess(this.handler.root, id, cgroupsPath);
  }

  async delete(id: string): Promise<void> {
    try {
      await this.run(['delete', '--force', id]);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    try {
      return JSON.parse(await this.run(['state', id])) as RuntimeState;
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  /**
   * A memory limit below what the container uses now is refused by cgroup v1 (EBUSY once
   * reclaim fails): that is the request's fault, not the daemon's, and says so.
   */
  async update(id: string, resources: unknown): Promise<string> {
    try {
      return await this.run(['update', '--resources', '-', id], JSON.stringify(resources));
    } catch (e) {
      if (e instanceof InternalError && MEMORY_LIMIT_REFUSED.test(e.message)) {
        throw new FailedPreconditionError(`the kernel refused the new memory limit, below what container ${id} uses now: ${e.message}`);
      }
      throw e;
    }
  }

  /** Spawns `runc exec` with a process.json; the caller owns the child. */
  spawnExec(id: string, processJsonPath: string, pidFile: string) {
    return spawn(this.handler.path, [...this.globalArgs(), 'exec', '--process', processJsonPath, '--pid-file', pidFile, id], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
}
