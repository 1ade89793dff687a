// Mounts nori makes on the host before the runtime creates a container, for what the runtime
// cannot do itself: recursive read-only mounts where the runtime lacks the `rro` option
// (crun 1.8 here), and image volumes (./image_volumes.ts). Each is staged under
// <state>/prepared-mounts/<container id>/<n> and handed to the runtime as a plain bind source.
// Once the runtime has created the container its mount namespace holds its own copies, so the
// staging mounts are taken down right away (release): none outlives CreateContainer, and start-up
// recovery takes down any a crash left (sweep).

import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, errorMessage } from '../errors';
import { MountPropagation, type ContainerConfig, type Mount } from '../gen/api';
import type { Logger } from '../log';
import type { SandboxRecord } from '../sandbox/api';
import { recursiveReadOnlySupport } from '../runtime/features';
import type { Sys } from '../sys/types';
import type { RroMounter } from '../sys/rro_mount';
import { mkdirp } from '../util/fs';
import { parseMountinfo } from '../proc/mountinfo';

const MNT_DETACH = 2;

/** The binary a handler really runs (a wrapper's target), and its global options. */
export interface HandlerBinary {
  path: string;
  options: string[];
  wraps?: string;
}

export interface PreparedMounts {
  /** Host path to bind instead of the mount's own host_path, per CRI mount (by identity). */
  sources: Map<Mount, string>;
  /** Whether the runtime takes the `rro` mount option (else nori staged those mounts). */
  rroOption: boolean;
  /** Staged sources that already show owners through the pod's user namespace maps. */
  idmapped: Set<string>;
  /** Takes the staging mounts down (after the runtime's create, or on failure). Idempotent. */
  release(): void;
}

/** Something else that stages mounts for one container (image volumes). */
export interface MountStager {
  /**
   * Stages what `m` needs under `dir`; returns the bind source (and whether it is idmapped for
   * the pod's user namespace already), or undefined if `m` is not its kind.
   */
  stage(containerId: string, m: Mount, dir: string, sandbox: SandboxRecord): Promise<{ source: string; idmapped: boolean } | undefined>;
  /** Drops what it keeps for the container beyond the staging mounts (references). Idempotent. */
  remove(containerId: string): Promise<void>;
  /** Start-up: drops what it keeps for containers that have no row. */
  recover(known: (containerId: string) => boolean): Promise<void>;
}

export interface MountPreparerDeps {
  stateDir: string;
  sys: Sys;
  rro: RroMounter;
  log: Logger;
  /** Creates a missing host path and resolves symlinks (NodeDefaults.resolveHostPath). */
  resolveHostPath(p: string): string;
  stagers?: MountStager[];
}

/** CRI's rules for a recursive read-only mount (api.proto): readonly, private propagation. */
export function checkRecursiveReadOnly(m: Mount): void {
  if (!m.recursiveReadOnly) return;
  if (!m.readonly) throw new InvalidArgumentError(`recursive read-only mount "${m.containerPath}" must be readonly`);
  if (m.propagation !== MountPropagation.PROPAGATION_PRIVATE) {
    throw new InvalidArgumentError(`recursive read-only mount "${m.containerPath}" needs private propagation, not ${MountPropagation[m.propagation]}`);
  }
}

export class MountPreparer {
  readonly root: string;

  constructor(private readonly d: MountPreparerDeps) {
    this.root = join(d.stateDir, 'prepared-mounts');
  }

  /** Whether a handler can have recursive read-only mounts: its own `rro`, or nori's. */
  recursiveReadOnly(h: HandlerBinary): Promise<{ supported: boolean; option: boolean }> {
    return recursiveReadOnlySupport(h, () => this.d.rro.available());
  }

  async prepare(containerId: string, config: ContainerConfig, handler: HandlerBinary, sandbox: SandboxRecord): Promise<PreparedMounts> {
    const mounts = config.mounts ?? [];
    for (const m of mounts) checkRecursiveReadOnly(m);
    const rro = mounts.some((m) => m.recursiveReadOnly && !m.image?.image)
      ? await this.recursiveReadOnly(handler)
      : { supported: true, option: false };
    if (!rro.supported) throw new InvalidArgumentError('recursive read-only mounts are not supported by this runtime handler and kernel');
    const dir = join(this.root, containerId);
    const sources = new Map<Mount, string>();
    const idmapped = new Set<string>();
    const prepared: PreparedMounts = { sources, rroOption: rro.option, idmapped, release: () => this.releaseDir(dir) };
    try {
      let n = 0;
      for (const m of mounts) {
        const slot = join(dir, String(n++));
        const staged = await this.stage(containerId, m, slot, rro.option, sandbox);
        if (staged === undefined) continue;
        sources.set(m, staged.source);
        if (staged.idmapped) idmapped.add(staged.source);
      }
    } catch (e) {
      prepared.release();
      throw e;
    }
    return prepared;
  }

  private async stage(
    containerId: string, m: Mount, slot: string, rroOption: boolean, sandbox: SandboxRecord,
  ): Promise<{ source: string; idmapped: boolean } | undefined> {
    for (const s of this.d.stagers ?? []) {
      const r = await s.stage(containerId, m, slot, sandbox);
      if (r !== undefined) return r;
    }
    if (!m.recursiveReadOnly || rroOption || !m.hostPath) return undefined;
    const src = this.d.resolveHostPath(m.hostPath);
    stagingParent(slot);
    if (statSync(src).isDirectory()) mkdirSync(slot, 0o700);
    else closeSync(openSync(slot, 'w', 0o600));
    this.d.rro.bindRecursiveReadOnly(src, slot);
    return { source: slot, idmapped: false };
  }

  /** Takes down every mount under `dir` (deepest first), then removes the now empty entries. */
  private releaseDir(dir: string): void {
    if (!existsSync(dir)) return;
    for (const p of mountPointsUnder(dir)) {
      try {
        this.d.sys.umount2(p, MNT_DETACH);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EINVAL' && code !== 'ENOENT') this.d.log.warn({ mount: p, err: errorMessage(e) }, 'unmounting a staged mount failed');
      }
    }
    // Never a recursive removal: were anything still mounted, it would delete from the source.
    const dev = statSync(this.root, { throwIfNoEntry: false })?.dev;
    const busy = new Set(mountPointsUnder(dir));
    if (dev !== undefined) removeEmptyTree(dir, { dev, busy }, this.d.log);
  }

  /** Drops what the stagers keep for a container (RemoveContainer, a failed create). */
  async forget(containerId: string): Promise<void> {
    for (const s of this.d.stagers ?? []) await s.remove(containerId);
  }

  /** Start-up, once the container rows are known: what the stagers keep for gone containers. */
  async recover(known: (containerId: string) => boolean): Promise<void> {
    for (const s of this.d.stagers ?? []) await s.recover(known);
  }

  /** Start-up: no container is being created, so every staging dir is a crash's leftover. */
  sweep(): void {
    let names: string[] = [];
    try {
      names = readdirSync(this.root);
    } catch {
      return;
    }
    for (const n of names) {
      this.d.log.info({ container: n }, 'taking down mounts a crash left staged');
      this.releaseDir(join(this.root, n));
    }
  }
}

/**
 * Creates the dirs above a staging slot, search-only (as containerd keeps its state dirs): a pod
 * with its own user namespace reaches the slot by path.
 */
export function stagingParent(slot: string): void {
  mkdirp(join(slot, '..'), 0o711);
}

/** Mount points under `dir`, deepest first. */
function mountPointsUnder(dir: string): string[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((e) => e.mountPoint)
    .filter((p) => p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes `p` and what is under it, but never enters a mount still there (one listed in `busy`,
 * or on another device than the staging dir's `dev`).
 */
function removeEmptyTree(p: string, keep: { dev: number; busy: Set<string> }, log: Logger): void {
  try {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.dev !== keep.dev || keep.busy.has(p)) throw new Error('still mounted');
    if (!st.isDirectory()) {
      unlinkSync(p);
      return;
    }
    for (const n of readdirSync(p)) removeEmptyTree(join(p, n), keep, log);
    rmdirSync(p);
  } catch (e) {
    log.warn({ path: p, err: errorMessage(e) }, 'removing a staging dir failed');
  }
}
