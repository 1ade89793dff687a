// Container lifecycle: create (create.ts), start, stop, remove, exits (exits.ts) and start-up
// recovery (recover.ts), one container at a time under its lock. Handlers in src/cri/ call into
// this; the rows live in src/store/container_store.ts.

import { constants as osConstants } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  AlreadyExistsError, FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError, errorMessage,
} from '../errors';
import { ContainerConfig, ContainerState, LinuxContainerResources } from '../gen/api';
import { reopenLog } from '../runtime/conmon';
import { loadIdentity, readProcStat, signalIfSame, stillRunning, type ProcStatReader } from '../proc/identity';
import type { OciRuntime } from '../runtime/oci_runtime';
import { RuntimeHandlers } from '../runtime/handlers';
import { ContainerStore, stateOf, type ContainerRow } from '../store/container_store';
import { mkdirp } from '../util/fs';
import { CgroupReader } from './cgroup_stats';
import { ExitWatcher } from './exit_watcher';
import { RemovedFiles } from './removed_files';
import { INIT_IDENTITY_FILE } from './identity_file';
import { recoverUnfinished } from './recover';
import { createContainer, type CreateContext } from './create';
import type { ContainerManagerDeps } from './manager_deps';
import { ExitBook, type ExitSource } from './exits';
import { OomEvidence } from './oom_evidence';
import { nowNs } from '../util/clock';
import { buildResources, resourceEnvOf } from './spec/resources';
import { umountQuiet } from '../sys/unpin';
import { KeyedLock } from '../util/keyed_lock';
import { faultPoint } from '../fault';
import { removeOrphanContainers } from '../recovery/orphan_containers';
import { ImageStore } from '../store/image_store';
import { withTimeout } from '../util/parallel';
import { MountPreparer } from './prepared_mounts';
import { ImageVolumes } from './image_volumes';
import { rroMounter } from '../sys/rro_mount';
import { NativeUsernsSys } from '../sys/userns';
import { idmapDir, releaseIdmaps, sweepIdmaps } from './userns_mounts';
import { stepTimer } from '../util/step_timer';

/** A container state change, for listeners (events, metrics); `row` is the row after it. */
export type ContainerTransition = 'CREATED' | 'STARTED' | 'STOPPED' | 'DELETED';
export type TransitionListener = (t: ContainerTransition, row: ContainerRow) => void;

export class ContainerManager {
  readonly store: ContainerStore;
  readonly cgroups: CgroupReader;
  readonly exitDir: string;
  private readonly socketDir: string;
  private readonly containersDir: string;
  private readonly handlers: RuntimeHandlers;
  private readonly watcher: ExitWatcher;
  private readonly exits: ExitBook;
  private readonly oom: OomEvidence;
  private readonly reservedNames = new Set<string>();
  readonly lock = new KeyedLock();
  /** Exited containers whose runtime state, cgroups and rootfs mount went with the exit (releaseAfterExit). */
  private readonly releasedAtExit = new Set<string>();
  /** Removed containers whose files are still being deleted (RemoveContainer returns before). */
  private readonly removedFiles: RemovedFiles;
  readonly preparer: MountPreparer;
  /** Told of every transition, synchronously, right after the store has it. */
  readonly listeners: TransitionListener[] = [];

  constructor(readonly deps: ContainerManagerDeps) {
    this.store = new ContainerStore(deps.db);
    this.handlers = new RuntimeHandlers(deps.config);
    this.cgroups = deps.cgroups ?? new CgroupReader();
    const state = deps.config.state;
    this.exitDir = join(state, 'exits');
    this.socketDir = join(state, 'conmon-sockets');
    this.containersDir = join(state, 'containers');
    for (const d of [this.exitDir, this.socketDir, this.containersDir]) mkdirp(d, 0o700);
    this.removedFiles = new RemovedFiles({
      exitDir: this.exitDir, socketDir: this.socketDir, removeLayer: (id) => deps.images.removeContainerLayer(id), log: deps.log,
    });
    this.watcher = new ExitWatcher(this.exitDir, (id) => this.onExitFile(id));
    this.oom = new OomEvidence(this.cgroups, deps.config.cgroupDriver === 'systemd' && this.cgroups.v2);
    this.exits = new ExitBook({
      store: this.store, exitDir: this.exitDir, log: deps.log, oom: this.oom, onStopped: (row, source) => this.onStopped(row, source),
    });
    this.preparer = deps.mountPreparer ?? new MountPreparer({
      stateDir: state, sys: deps.sys, rro: rroMounter(), log: deps.log,
      resolveHostPath: (p) => (deps.nodeDefaults({ mountInfo: false }).resolveHostPath ?? ((x: string) => x))(p),
      stagers: [new ImageVolumes({
        images: deps.images, sys: deps.sys, log: deps.log, refIds: () => new ImageStore(deps.db).containers(), refIdsBetween: (from, to) => new ImageStore(deps.db).containersBetween(from, to), usernsMounts: () => this.usernsDeps(),
      })],
    });
  }

  runtimeFor(handlerName: string): OciRuntime {
    return this.handlers.get(handlerName);
  }

  get(idOrPrefix: string): ContainerRow {
    const r = this.store.find(idOrPrefix);
    if (!r) throw new NotFoundError(`container "${idOrPrefix}" not found`);
    return r;
  }

  // ---- create -------------------------------------------------------------------------------

  async create(sandboxId: string, config: ContainerConfig | undefined): Promise<string> {
    if (!config?.metadata?.name) throw new InvalidArgumentError('container config must have metadata.name');
    const sandbox = this.deps.sandboxes.get(sandboxId);
    if (!sandbox) throw new NotFoundError(`pod sandbox "${sandboxId}" not found`);
    if (sandbox.state !== 'READY') throw new FailedPreconditionError(`pod sandbox ${sandbox.id} is not ready`);
    const imageRef = config.image?.image ?? '';
    if (!imageRef) throw new InvalidArgumentError('container config must name an image');
    const image = this.deps.images.resolve(imageRef);
    if (!image) throw new NotFoundError(`image "${imageRef}" not found: no such image`);

    const meta = config.metadata;
    const nameKey = `${meta.name}_${sandbox.name}_${sandbox.namespace}_${sandbox.uid}_${meta.attempt}`;
    const holder = this.store.byNameKey(nameKey);
    if (holder || this.reservedNames.has(nameKey)) {
      throw new AlreadyExistsError(`container name "${nameKey}" is reserved for ${holder ? holder.id : 'a container being created'}`);
    }
    this.reservedNames.add(nameKey);

    try {
      const id = await createContainer(this.createContext(), { sandbox, config, image, imageRef, nameKey });
      this.emit('CREATED', id);
      // A container whose init died during create already has an exit file.
      this.onExitFile(id);
      return id;
    } finally {
      this.reservedNames.delete(nameKey);
    }
  }
  private createContext(): CreateContext {
    return {
      deps: this.deps, store: this.store, containersDir: this.containersDir, exitDir: this.exitDir, socketDir: this.socketDir,
      preparer: this.preparer, oom: this.oom, runtimeFor: (h) => this.runtimeFor(h), usernsDeps: () => this.usernsDeps(),
      releaseIdmaps: (id) => this.releaseIdmaps(id), livePid: (row) => this.livePid(row),
    };
  }

  private usernsDeps() {
    this.deps.userns ??= new NativeUsernsSys();
    return { sys: this.deps.sys, userns: this.deps.userns, state: this.deps.config.state };
  }

  private releaseIdmaps(id: string): void {
    const left = releaseIdmaps(this.deps.sys, idmapDir(this.deps.config.state, id));
    if (left.length > 0) this.deps.log.warn({ container: id, left }, 'idmapped mounts left in place');
  }

  /**
   * The container's init pid if that process still runs — checked against the start time
   * recorded at create, so a pid reused after the container died is never trusted. Containers
   * created before nori recorded it are asked of the runtime (runc checks its own start time).
   */
  async livePid(row: ContainerRow, read: ProcStatReader = readProcStat): Promise<number | undefined> {
    const saved = loadIdentity(join(row.bundle, INIT_IDENTITY_FILE));
    if (saved) return saved.pid === row.pid && stillRunning(saved, read) ? saved.pid : undefined;
    const st = await this.runtimeFor(row.handler).state(row.id).catch(() => undefined);
    return st && (st.status === 'running' || st.status === 'created') && st.pid === row.pid ? row.pid : undefined;
  }

  private unmount(target: string): void {
    umountQuiet(this.deps.sys, target);
  }

  // ---- start / stop -------------------------------------------------------------------------

  async start(idOrPrefix: string): Promise<void> {
    const row = this.get(idOrPrefix);
    await this.lock.run(row.id, async () => {
      const cur = this.get(row.id);
      const st = stateOf(cur);
      if (st !== ContainerState.CONTAINER_CREATED) {
        throw new FailedPreconditionError(`container ${cur.id} is ${ContainerState[st]}, not CREATED`);
      }
      const sandbox = this.deps.sandboxes.get(cur.sandboxId);
      if (sandbox && sandbox.state !== 'READY') throw new FailedPreconditionError(`pod sandbox ${cur.sandboxId} is not ready`);
      const startedAt = nowNs();
      try {
        await this.runtimeFor(cur.handler).start(cur.id, cur.pid);
        faultPoint('start.after-runtime-start');
      } catch (e) {
        this.store.update(cur.id, { finishedAt: nowNs(), exitCode: 128, reason: 'StartError', message: errorMessage(e) });
        this.emit('STOPPED', cur.id);
        throw new InternalError(`failed to start container ${cur.id}: ${errorMessage(e)}`);
      }
      this.store.update(cur.id, { startedAt });
      this.emit('STARTED', cur.id);
      this.onExitFile(cur.id);
    });
  }

  /** Resolves when the container has an exit recorded, or after timeoutMs (false). */
  waitExit(id: string, timeoutMs: number): Promise<boolean> {
    return this.exits.wait(id, timeoutMs);
  }

  async stop(idOrPrefix: string, timeoutSec: number): Promise<void> {
    const row = this.store.find(idOrPrefix);
    if (!row) return;
    const st = stateOf(row);
    if (st === ContainerState.CONTAINER_EXITED) return;
    const rt = this.runtimeFor(row.handler);
    const sharedPid = this.sharesPidNamespace(row);
    if (st === ContainerState.CONTAINER_RUNNING && timeoutSec > 0) {
      const sig = row.stopSignal || 'SIGTERM';
      await this.kill(rt, row.id, sig, false);
      if (await this.waitExit(row.id, timeoutSec * 1000)) return;
      this.deps.log.info({ container: row.id, timeoutSec }, 'stop grace period over; killing');
    }
    await this.kill(rt, row.id, 'SIGKILL', sharedPid);
    if (!(await this.waitExit(row.id, 30_000))) {
      throw new InternalError(`container ${row.id} did not exit after SIGKILL`);
    }
  }

  private sharesPidNamespace(row: ContainerRow): boolean {
    const sb = this.deps.sandboxes.get(row.sandboxId);
    const mode = row.config.linux?.securityContext?.namespaceOptions?.pid;
    return mode === 0 /* POD */ || (sb?.pid === 'POD' && mode === undefined);
  }

  private async kill(rt: OciRuntime, id: string, sig: string, all: boolean): Promise<void> {
    // One process to signal: signal it here, checked against the start time recorded at create
    // (what `runc kill` without --all does, minus a Go start-up of ≈ 40 ms). --all walks the
    // cgroup, so that stays with the runtime, as do signals Node cannot name.
    const row = this.store.get(id);
    const ident = row && !all && sig in osConstants.signals ? loadIdentity(join(row.bundle, INIT_IDENTITY_FILE)) : undefined;
    if (ident && ident.pid === row!.pid) {
      if (!signalIfSame(ident, sig as NodeJS.Signals)) this.onExitFile(id);
      return;
    }
    try {
      await rt.kill(id, sig, all);
    } catch (e) {
      // Already stopped or gone: the exit file will (or did) tell.
      if (e instanceof NotFoundError || /not running|process already finished|container not running/i.test(errorMessage(e))) {
        this.onExitFile(id);
        return;
      }
      throw e;
    }
  }

  // ---- exits ------------------------------------------------------------------------------

  /** Records the exit conmon wrote for the container, if there is one and none is recorded yet. */
  onExitFile(id: string): void {
    this.exits.record(id);
  }

  private onStopped(row: ContainerRow, source: ExitSource): void {
    this.emit('STOPPED', row.id);
    if (source === 'exit') this.releaseAfterExit(row);
  }

  /**
   * What containerd does when it handles an exit (its task delete): the runtime's state and the
   * container's cgroups go, and the rootfs is unmounted, so RemoveContainer is left the row and
   * the files. Only where runc's part can be done in-process (runtime/stopped_delete.ts): a
   * process left in the cgroup, another runtime or the systemd driver leave all of it to
   * RemoveContainer, as before. Every step is one RemoveContainer repeats harmlessly, so a crash
   * in between (or a restart, which forgets releasedAtExit) costs nothing but the repeat.
   */
  private releaseAfterExit(row: ContainerRow): void {
    if (this.deps.config.cgroupDriver === 'systemd' || this.releasedAtExit.has(row.id)) return;
    try {
      if (!this.runtimeFor(row.handler).deleteStoppedInProcess(row.id, row.cgroupPath)) return;
      faultPoint('container-exit.after-runtime-delete');
      this.releaseRootfs(row);
      this.releasedAtExit.add(row.id);
    } catch (e) {
      this.deps.log.warn({ container: row.id, err: errorMessage(e) }, 'releasing an exited container failed; RemoveContainer retries');
    }
  }

  /** The rootfs mount and, in a user namespace, its idmapped clones. */
  private releaseRootfs(row: ContainerRow): void {
    this.unmount(join(row.bundle, 'rootfs'));
    this.releaseIdmaps(row.id);
  }

  // ---- remove -----------------------------------------------------------------------------

  async remove(idOrPrefix: string): Promise<void> {
    const row = this.store.find(idOrPrefix);
    if (!row) return;
    await this.lock.run(row.id, async () => {
      if (!this.store.get(row.id)) return;
      const { steps, step } = stepTimer();
      const st = stateOf(this.store.get(row.id)!);
      if (st === ContainerState.CONTAINER_RUNNING || st === ContainerState.CONTAINER_CREATED || st === ContainerState.CONTAINER_UNKNOWN) {
        await this.stop(row.id, 0).catch((e) => this.deps.log.warn({ container: row.id, err: errorMessage(e) }, 'kill before remove failed'));
        step('stop');
      }
      if (this.releasedAtExit.has(row.id)) {
        step('delete-at-exit');
      } else {
        const rt = this.runtimeFor(row.handler);
        // Only an exit nori recorded proves the init is gone; otherwise the runtime's own delete --force.
        const exited = (this.store.get(row.id)?.finishedAt ?? 0n) > 0n;
        // Under the systemd driver the scope is systemd's: runc delete stops it through systemd.
        const ownCgroup = this.deps.config.cgroupDriver === 'systemd' ? '' : row.cgroupPath;
        const how = exited ? await rt.deleteStopped(row.id, ownCgroup) : (await rt.delete(row.id), 'runtime');
        step(`delete-${how}`);
        this.releaseRootfs(row);
      }
      faultPoint('remove-container.after-unmount');
      step('unmount');
      await this.preparer.forget(row.id);
      step('forget');
      // The container is gone from every list (and no longer holds its image) when the call
      // returns; its files go right after, off the call (removed_files.ts).
      new ImageStore(this.deps.db).removeContainer(row.id);
      this.store.delete(row.id);
      this.releasedAtExit.delete(row.id);
      this.emit('DELETED', row.id, row);
      faultPoint('remove-container.after-row-deleted');
      step('row');
      this.deps.log.info({ container: row.id, steps }, 'container removed');
      this.removedFiles.remove(row);
    });
  }

  /** Resolves when the files of every container removed so far are gone (pod removal, shutdown). */
  filesRemoved(): Promise<void> {
    return this.removedFiles.settled();
  }

  // ---- misc ---------------------------------------------------------------------------------

  async updateResources(idOrPrefix: string, res: LinuxContainerResources | undefined): Promise<void> {
    const row = this.get(idOrPrefix);
    const st = stateOf(row);
    if (st !== ContainerState.CONTAINER_RUNNING && st !== ContainerState.CONTAINER_CREATED) {
      throw new FailedPreconditionError(`container ${row.id} is not running`);
    }
    if (!res) return;
    const warnings: string[] = [];
    const resources = buildResources(res, resourceEnvOf(this.deps.nodeDefaults({ mountInfo: false })), warnings);
    for (const w of warnings) this.deps.log.warn({ container: row.id }, w);
    await this.runtimeFor(row.handler).update(row.id, { ...resources });
    this.store.update(row.id, { resources: JSON.stringify(LinuxContainerResources.toJSON(res)) });
  }

  /** Synchronous for the caller: returns once conmon has created the new log file. */
  async reopenLog(idOrPrefix: string): Promise<void> {
    const row = this.get(idOrPrefix);
    if (stateOf(row) !== ContainerState.CONTAINER_RUNNING) throw new FailedPreconditionError(`container ${row.id} is not running`);
    const logPath = row.logPath || join(row.bundle, 'ctr.log');
    try {
      reopenLog(row.bundle);
    } catch (e) {
      throw new InternalError(`cannot reach conmon of container ${row.id}: ${errorMessage(e)}`);
    }
    const deadline = Date.now() + 5000;
    while (!existsSync(logPath)) {
      if (Date.now() > deadline) throw new InternalError(`conmon did not reopen ${logPath} within 5 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Restart: containers keep running; exits seen while nori was down are recorded. */
  async recover(): Promise<void> {
    const left = sweepIdmaps(this.deps.sys, this.deps.config.state);
    if (left.length > 0) this.deps.log.warn({ left }, 'idmapped mounts a crash left could not all be removed');
    this.watcher.start();
    this.watcher.sweep();
    this.preparer.sweep();
    await recoverUnfinished({ store: this.store, exits: this.exits, runtimeFor: (h) => this.runtimeFor(h), log: this.deps.log });
    await removeOrphanContainers({
      stateDir: this.deps.config.state,
      containersDir: this.containersDir,
      exitDir: this.exitDir,
      socketDir: this.socketDir,
      runtimes: Object.keys(this.deps.config.runtimes).map((n) => this.runtimeFor(n)),
      layerIds: () => new ImageStore(this.deps.db).containers(),
      removeLayer: (id) => this.deps.images.removeContainerLayer(id),
      unmount: (t) => this.unmount(t),
      known: (id) => this.store.get(id) !== undefined,
      log: this.deps.log,
    });
    await this.preparer.recover((id) => this.store.get(id) !== undefined);
  }

  async close(): Promise<void> {
    this.watcher.close();
    await withTimeout(this.filesRemoved(), 10_000, 'removing removed containers\' files').catch(() => undefined);
  }

  /** A listener's failure is logged, never the caller's: transitions already happened. */
  private emit(t: ContainerTransition, id: string, gone?: ContainerRow): void {
    const row = gone ?? this.store.get(id);
    if (!row) return;
    for (const l of this.listeners) {
      try {
        l(t, row);
      } catch (e) {
        this.deps.log.warn({ container: id, transition: t, err: errorMessage(e) }, 'transition listener failed');
      }
    }
  }

  containersOf(sandboxId: string): ContainerRow[] {
    return this.store.list().filter((r) => r.sandboxId === sandboxId);
  }
}
