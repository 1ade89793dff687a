// The few systemd Manager calls the systemd cgroup driver needs, over the system D-Bus: a pod
// slice when kubelet did not create one, a scope for a process nori starts itself (the pod
// init), resource properties on a slice, and stopping them again. Under the systemd driver
// systemd owns the cgroup tree, so nori asks it (StartTransientUnit) instead of writing into it.
//
// The calls go through `busctl call` (systemd's own client, on every host that runs systemd)
// rather than an in-process D-Bus library: nori makes them only when a pod is created, resized
// or removed, where one short process per call is cheap next to the runc and conmon processes
// the same RPCs start, and it adds no dependency. busctl returns when systemd has queued the
// job, so each call then waits for its effect to show in cgroupfs (the job itself is quick).

import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FailedPreconditionError, InternalError } from '../errors';
import { expandSlice } from './names';

const DEST = ['org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager'];

/** One unit property in busctl's notation: name, D-Bus signature, value(s). */
export type UnitProperty = [string, 's' | 'b' | 't' | 'au' | 'ay', string | boolean | bigint | number[]];

export interface SystemdUnitsOptions {
  /** cgroupfs mount (default /sys/fs/cgroup), where a unit's effect is awaited. */
  root?: string;
  busctl?: string;
  /** How long to wait for a job's effect (default 15 s: TCG guests are slow). */
  waitMs?: number;
}

export class SystemdUnits {
  readonly root: string;
  private readonly busctl: string;
  private readonly waitMs: number;

  constructor(opts: SystemdUnitsOptions = {}) {
    this.root = opts.root ?? '/sys/fs/cgroup';
    this.busctl = opts.busctl ?? 'busctl';
    this.waitMs = opts.waitMs ?? 15_000;
  }

  /** The cgroupfs dir of a slice, e.g. nori-pod1.slice → <root>/nori.slice/nori-pod1.slice. */
  sliceDir(slice: string): string {
    return join(this.root, expandSlice(slice));
  }

  /** Starts a transient slice (its parents appear implicitly) with accounting on, as kubelet does. */
  async startSlice(slice: string, description: string): Promise<void> {
    await this.startTransient(slice, [
      ['Description', 's', description],
      ['MemoryAccounting', 'b', true],
      ['CPUAccounting', 'b', true],
      ['TasksAccounting', 'b', true],
      ['IOAccounting', 'b', true],
    ]);
    await this.waitFor(() => existsSync(this.sliceDir(slice)), `slice ${slice} to appear`);
  }

  /** Moves a running process into a new transient scope under `slice`. */
  async startScope(scope: string, slice: string, pid: number, description: string): Promise<void> {
    await this.startTransient(scope, [
      ['Description', 's', description],
      ['Slice', 's', slice],
      ['PIDs', 'au', [pid]],
      ['MemoryAccounting', 'b', true],
      ['CPUAccounting', 'b', true],
      ['TasksAccounting', 'b', true],
    ]);
    await this.waitFor(() => cgroupOf(pid).endsWith(`/${scope}`) || !existsSync(`/proc/${pid}`), `pid ${pid} to join ${scope}`);
  }

  /** Stops a unit and waits for its cgroup to go; a unit systemd does not know is already gone. */
  async stop(unit: string, cgroupDir?: string): Promise<void> {
    try {
      await this.call('StopUnit', 'ss', [unit, 'replace']);
    } catch (e) {
      if (!/NoSuchUnit|not loaded/i.test((e as Error).message)) throw e;
    }
    if (cgroupDir) await this.waitFor(() => !existsSync(cgroupDir), `${unit} to stop`);
  }

  /** Runtime (not persistent) properties on a running unit, e.g. a pod slice's limits. */
  async setProperties(unit: string, props: UnitProperty[]): Promise<void> {
    if (props.length === 0) return;
    await this.call('SetUnitProperties', 'sba(sv)', [unit, 'true', ...encodeProps(props)]);
  }

  private async startTransient(unit: string, props: UnitProperty[]): Promise<void> {
    await this.call('StartTransientUnit', 'ssa(sv)a(sa(sv))', [unit, 'fail', ...encodeProps(props), '0']);
  }

  private call(method: string, signature: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.busctl, ['--system', '--quiet', 'call', ...DEST, method, signature, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const text = (stderr || err.message).trim();
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new FailedPreconditionError(`the systemd cgroup driver needs systemd's busctl on PATH: ${text}`));
        } else reject(new InternalError(`systemd ${method} ${args[0]}: ${text}`));
      });
    });
  }

  private async waitFor(done: () => boolean, what: string): Promise<void> {
    const until = Date.now() + this.waitMs;
    for (let delay = 5; !done(); delay = Math.min(delay * 2, 200)) {
      if (Date.now() > until) throw new InternalError(`systemd: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** busctl's flat encoding of a(sv): the count, then name, signature and value per entry. */
export function encodeProps(props: UnitProperty[]): string[] {
  const out = [String(props.length)];
  for (const [name, sig, value] of props) {
    out.push(name, sig);
    if (sig === 'au' || sig === 'ay') {
      const list = value as number[];
      out.push(String(list.length), ...list.map(String));
    } else out.push(String(value));
  }
  return out;
}

/** The unified-hierarchy cgroup path of a process ("" when gone or unreadable). */
export function cgroupOf(pid: number): string {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
    return line ? line.slice(3).trim() : '';
  } catch {
    return '';
  }
}
