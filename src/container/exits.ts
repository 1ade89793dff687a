// A container's exit as the CRI reports it: conmon's exit file (or an exit nori had to infer),
// the OOM verdict, the termination message, and the callers waiting for it.

import { join } from 'node:path';
import type { Logger } from '../log';
import type { ContainerRow, ContainerStore } from '../store/container_store';
import { readRegularCapped } from '../util/capped_read';
import { nowNs } from '../util/clock';
import { readExitFile } from './exit_watcher';
import type { OomEvidence } from './oom_evidence';
import { terminationMessageSource } from './spec/mounts';

/** kubelet's limit on a termination message (maxMsgSize in its termination-log reader) */
const TERMINATION_MESSAGE_MAX = 4096;
/** How often a waiter looks for the exit file itself, in case an inotify event was missed. */
const WAIT_POLL_MS = 1000;

/** 'exit': from conmon's exit file; 'lost': inferred, no exit file will come. */
export type ExitSource = 'exit' | 'lost';

export interface ExitBookDeps {
  store: ContainerStore;
  exitDir: string;
  log: Logger;
  oom: OomEvidence;
  /** Runs after the store has the exit and before waiters wake; `row` is the row before it. */
  onStopped(row: ContainerRow, source: ExitSource): void;
}

export class ExitBook {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly d: ExitBookDeps) {}

  /** Records the exit conmon wrote for the container, if it has written one and none is recorded. */
  record(id: string): void {
    const row = this.d.store.get(id);
    if (!row || row.finishedAt > 0n) return;
    const exit = readExitFile(this.d.exitDir, id);
    if (!exit) return;
    let { code } = exit;
    let reason = code === 0 ? 'Completed' : 'Error';
    if (this.d.oom.oomKilled(row, code)) {
      reason = 'OOMKilled';
      code = 137;
    }
    const message = terminationMessage(row);
    const finishedAt = exit.at > row.startedAt ? exit.at : nowNs();
    this.d.store.update(id, { finishedAt, exitCode: code, reason, message });
    this.d.log.info({ container: id, exitCode: code, reason }, 'container exited');
    this.d.onStopped(row, 'exit');
    this.wake(id);
  }

  /** An exit nori saw no exit file for (lost with a reboot, or with a dead conmon). */
  recordLost(id: string, exitCode: number, reason: string, message: string): void {
    const row = this.d.store.get(id);
    if (!row) return;
    this.d.store.update(id, { finishedAt: nowNs(), exitCode, reason, message, unknown: false });
    this.d.log.warn({ container: id, exitCode, reason: message }, 'container exit recorded without an exit file');
    this.d.onStopped(row, 'lost');
    this.wake(id);
  }

  /** Resolves when the container has an exit recorded, or after timeoutMs (false). */
  wait(id: string, timeoutMs: number): Promise<boolean> {
    const r = this.d.store.get(id);
    if (!r || r.finishedAt > 0n) return Promise.resolve(true);
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        clearInterval(poll);
        set.delete(wake);
        resolve(ok);
      };
      const wake = () => done(true);
      const poll = setInterval(() => this.record(id), WAIT_POLL_MS);
      const timer = setTimeout(() => done(false), Math.max(0, timeoutMs));
      set.add(wake);
    });
  }

  private wake(id: string): void {
    for (const w of [...(this.waiters.get(id) ?? [])]) w();
    this.waiters.delete(id);
  }
}

function terminationMessage(row: ContainerRow): string {
  try {
    const file = terminationMessageSource(row.config.mounts ?? [], row.config.annotations, join(row.bundle, 'termination-log'));
    // the container writes this file: a regular file only, 4096 bytes as kubelet reads it
    return readRegularCapped(file, TERMINATION_MESSAGE_MAX).toString('utf8');
  } catch {
    return '';
  }
}
