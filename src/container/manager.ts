// Container lifecycle: create (bundle, overlay rootfs, conmon + runtime create), start, stop,
// remove, exit bookkeeping and recovery. Handlers in src/cri/ call into this; the rows live in
// src/store/container_store.ts.

import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve as resolvePath } from 'node:path';
import type { Config } from '../config';
import {
  AlreadyExistsError, FailedPreconditionError, InternalError, InvalidArgumentError, NotFoundError, errorMessage,
} from '../errors';
import { ContainerConfig, ContainerState, LinuxContainerResources, signalToJSON } from '../gen/api';
import type { ImageLookup } from '../image/api';
import type { Logger } from '../log';
import type { SandboxLookup, SandboxRecord } from '../sandbox/api';
import { conmonCreate, reopenLog } from '../runtime/conmon';
import { loadIdentity, readProcStat, saveIdentity, signalIfSame, stillRunning, type ProcStatReader } from '../proc/identity';
import { OciRuntime } from '../runtime/oci_runtime';
import { adaptHandler } from '../runtime/crun_hybrid';
import { removeContainerCgroups } from '../runtime/cgroup_cleanup';
import { containerCgroupDir } from '../cgroups/names';
import { ContainerStore, stateOf, type ContainerRow } from '../store/container_store';
import type { Db } from '../store/db';
import type { Sys } from '../sys/types';
import { mkdirp } from '../util/fs';
import { CgroupReader } from './cgroup_stats';
import { ExitWatcher, readExitFile } from './exit_watcher';
import { KeyedLock } from '../util/keyed_lock';
import type { NodeDefaults, SpecInput, SpecResult } from './spec/types';
import { needsMountInfo, terminationMessageSource } from './spec/mounts';
import { readRegularCapped } from '../util/capped_read';
import { faultPoint } from '../fault';
import { liveConmonPid } from '../recovery/conmon_alive';
import { removeOrphanContainers } from '../recovery/orphan_containers';
import { ImageStore } from '../store/image_store';
import { quickRuntimeState } from '../recovery/quick_state';
import { eachLimited, withTimeout } from '../util/parallel';
import { MountPreparer } from './prepared_mounts';
import { ImageVolumes } from './image_volumes';
import { rroMounter } from '../sys/rro_mount';
import { NativeUsernsSys, type UsernsSys } from '../sys/userns';
import { idmapBindSources, idmapDir, mountUsernsRootfs, openPathForPodRoot, releaseIdmaps, sweepIdmaps } from './userns_mounts';
import { stepTimer } from '../util/step_timer';

const MNT_DETACH = 2;
/** Containers recovered at once at start-up, and how long one may take before the rest go on. */
const RECOVERY_WIDTH = 8;
const RECOVERY_TIMEOUT_MS = 10_000;
/** kubelet's limit on a termination message (maxMsgSize in its termination-log reader) */
const TERMINATION_MESSAGE_MAX = 4096;
/** "<pid> <start time>" of the container's init, in its bundle (see proc/identity.ts). */
export const INIT_IDENTITY_FILE = 'init.identity';

export interface ContainerManagerDeps {
  config: Config;
  db: Db;
  log: Logger;
  sys: Sys;
  images: ImageLookup;
  sandboxes: SandboxLookup;
  buildSpec(input: SpecInput): SpecResult;
  /** mountInfo false: the caller needs no mount table (NodeDefaults.mountInfo may be absent). */
  nodeDefaults(need?: { mountInfo?: boolean }): NodeDefaults;
  cgroups?: CgroupReader;
  /** Stages what the runtime cannot mount itself (prepared_mounts.ts); one over the state dir if absent. */
  mountPreparer?: MountPreparer;
  /** Idmapped mounts for pods with their own user namespace; default: the native one. */
  userns?: UsernsSys;
}

/** A container state change, for listeners (events, metrics); `row` is the row after it. */
export type ContainerTransition = 'CREATED' | 'STARTED' | 'STOPPED' | 'DELETED';
export type TransitionListener = (t: ContainerTransition, row: ContainerRow) => void;

export function nowNs(): bigint {
  return process.hrtime.bigint() - HR_BASE + EPOCH_BASE;
}
const EPOCH_BASE = BigInt(Date.now()) * 1_000_000n;
const HR_BASE = process.hrtime.bigint();

export class ContainerManager {
  readonly store: ContainerStore;
  readonly cgroups: CgroupReader;
  readonly exitDir: string;
  private readonly socketDir: string;
  private readonly containersDir: string;
  private readonly runtimes = new Map<string, OciRuntime>();
  private readonly watcher: ExitWatcher;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly reservedNames = new Set<string>();
  readonly lock = new KeyedLock();
  /** Exited containers whose runtime state, cgroups and rootfs mount went with the exit (releaseAfterExit). */
  private readonly releasedAtExit = new Set<string>();
  /** Removed containers whose files are still being deleted (RemoveContainer returns before). */
  private readonly fileRemovals = new Set<Promise<void>>();
  readonly preparer: MountPreparer;
  /** Told of every transition, synchronously, right after the store has it. */
  readonly listeners: TransitionListener[] = [];

  constructor(readonly deps: ContainerManagerDeps) {
    this.store = new ContainerStore(deps.db);
    this.cgroups = deps.cgroups ?? new CgroupReader();
    const state = deps.config.state;
    this.exitDir = join(state, 'exits');
    this.socketDir = join(state, 'conmon-sockets');
    this.containersDir = join(state, 'containers');
    for (const d of [this.exitDir, this.socketDir, this.containersDir]) mkdirp(d, 0o700);
    this.watcher = new ExitWatcher(this.exitDir, (id) => this.onExitFile(id));
    this.preparer = deps.mountPreparer ?? new MountPreparer({
      stateDir: state, sys: deps.sys, rro: rroMounter(), log: deps.log,
      resolveHostPath: (p) => (deps.nodeDefaults({ mountInfo: false }).resolveHostPath ?? ((x: string) => x))(p),
      stagers: [new ImageVolumes({
        images: deps.images, sys: deps.sys, log: deps.log, refIds: () => new ImageStore(deps.db).containers(), refIdsBetween: (from, to) => new ImageStore(deps.db).containersBetween(from, to), usernsMounts: () => this.usernsDeps(),
      })],
    });
  }

  runtimeFor(handlerName: string): OciRuntime {
    const name = handlerName || this.deps.config.defaultRuntime;
    let rt = this.runtimes.get(name);
    if (rt) return rt;
    const h = this.deps.config.runtimes[name];
    if (!h) throw new NotFoundError(`runtime handler "${name}" is not configured`);
    // The systemd driver: runc/crun create each container's scope through systemd.
    const systemd = this.deps.config.cgroupDriver === 'systemd' && !h.options.includes('--systemd-cgroup');
    const handler = { name, path: h.path, options: systemd ? ['--systemd-cgroup', ...h.options] : h.options, root: h.root || join(this.deps.config.state, name) };
    // crun on this kind of hybrid cgroup host only runs through a wrapper (runtime/crun_hybrid.ts).
    rt = new OciRuntime(adaptHandler(handler, join(this.deps.config.state, 'runtime-wrappers')));
    this.runtimes.set(name, rt);
    return rt;
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

    const id = randomBytes(32).toString('hex');
    const bundle = join(this.containersDir, id);
    const rootfs = join(bundle, 'rootfs');
    const runtime = this.runtimeFor(sandbox.runtimeHandler);
    const undo: (() => Promise<void> | void)[] = [];
    const log = this.deps.log.child({ container: id });
    // Milliseconds per step, logged with "container created" (where CreateContainer's time goes).
    const { steps, step } = stepTimer();
    try {
      mkdirp(rootfs, 0o700);
      undo.push(() => rmSync(bundle, { recursive: true, force: true }));

      const layer = await this.deps.images.createContainerLayer(id, image.id);
      undo.push(() => this.deps.images.removeContainerLayer(id));
      if (sandbox.userns) {
        openPathForPodRoot(this.deps.config.state, [this.containersDir, bundle]);
        mountUsernsRootfs(this.usernsDeps(), id, layer, rootfs, sandbox);
      } else {
        this.mountOverlay(layer, rootfs);
      }
      step('rootfs');
      undo.push(() => this.unmount(rootfs));
      faultPoint('create.after-overlay-mount');

      const [passwd, group] = await Promise.all([
        this.deps.images.readImageFile(image.id, '/etc/passwd'),
        this.deps.images.readImageFile(image.id, '/etc/group'),
      ]);
      step('spec.image-files');
      undo.push(() => this.preparer.forget(id));
      const prepared = await this.preparer.prepare(id, config, runtime.handler, sandbox);
      undo.push(() => prepared.release());
      faultPoint('create.after-prepared-mounts');
      step('spec.mounts');
      const terminationMessagePath = join(bundle, 'termination-log');
      writeFileSync(terminationMessagePath, '', { mode: 0o666 });
      const defaults = { ...this.deps.nodeDefaults({ mountInfo: needsMountInfo(config.mounts) }), recursiveReadOnlySupported: prepared.rroOption };
      const targetPidNamespace = await this.targetPidNamespace(config);
      step('spec.node');

      const { spec, warnings } = this.deps.buildSpec({
        containerId: id,
        config,
        sandbox,
        image: { id: image.id, config: image.config, files: { passwd: passwd?.toString('utf8') ?? null, group: group?.toString('utf8') ?? null } },
        rootfs,
        terminationMessagePath,
        defaults,
        targetPidNamespace,
        preparedMounts: prepared.sources,
      });
      for (const w of warnings) log.warn({ warning: w }, 'container spec');
      if (sandbox.userns) {
        undo.push(() => void releaseIdmaps(this.deps.sys, idmapDir(this.deps.config.state, id)));
        // Image volumes are idmapped layer by layer already (an overlay cannot be idmapped).
        idmapBindSources(this.usernsDeps(), id, spec.mounts.filter((m) => !prepared.idmapped.has(m.source ?? '')), sandbox);
      }
      step('spec.build');
      // A plain write, no fsync: the bundle is fresh (nothing reads config.json before conmon
      // starts) and lives in the volatile state dir, gone with the containers after a crash.
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
      step('spec.write');

      const logPath = this.logPathFor(sandbox, config, bundle);
      mkdirp(dirname(logPath));

      // A runtime that fails half-way may leave its state and the container's cgroup behind.
      const cgroupsPathOf = typeof spec.linux.cgroupsPath === 'string' ? spec.linux.cgroupsPath : '';
      undo.push(() => void removeContainerCgroups(cgroupsPathOf));
      undo.push(() => runtime.delete(id));
      const created = await conmonCreate({
        conmonPath: this.deps.config.conmon,
        runtime,
        id,
        name: nameKey,
        bundle,
        logPath,
        exitDir: this.exitDir,
        socketDir: this.socketDir,
        terminal: config.tty,
        stdin: config.stdin,
        stdinOnce: config.stdinOnce,
        logLevel: this.deps.config.logLevel === 'trace' ? 'debug' : 'info',
        systemdCgroup: this.deps.config.cgroupDriver === 'systemd',
        step,
      });
      // The container's mount namespace has its own copies now.
      prepared.release();
      // The runtime's bind mounts are the container's own now: the clones can go.
      if (sandbox.userns) this.releaseIdmaps(id);
      if (created.init) saveIdentity(join(bundle, INIT_IDENTITY_FILE), created.init);
      faultPoint('create.after-runtime-create');

      const stopSignal = config.stopSignal
        ? signalToJSON(config.stopSignal)
        : image.config.StopSignal ?? '';
      const res = config.linux?.resources;
      this.store.insert({
        id,
        sandboxId: sandbox.id,
        nameKey,
        imageRef,
        imageId: image.id,
        config,
        handler: runtime.handler.name,
        bundle,
        logPath: config.logPath ? logPath : '',
        // Where the runtime puts it in cgroupfs (stats and OOM read there), in either driver.
        cgroupPath: typeof spec.linux.cgroupsPath === 'string' ? containerCgroupDir(spec.linux.cgroupsPath) : '',
        stopSignal,
        userJson: JSON.stringify(spec.process.user),
        createdAt: nowNs(),
        startedAt: 0n,
        finishedAt: 0n,
        exitCode: 0,
        reason: '',
        message: '',
        pid: created.pid,
        unknown: false,
        resources: res ? JSON.stringify(LinuxContainerResources.toJSON(res)) : '',
      });
      step('record');
      log.info({ pid: created.pid, name: nameKey, steps }, 'container created');
      this.emit('CREATED', id);
      // A container whose init died during create already has an exit file.
      this.onExitFile(id);
      return id;
    } catch (e) {
      for (const u of undo.reverse()) {
        try {
          await u();
        } catch (ue) {
          log.warn({ err: errorMessage(ue) }, 'rollback step failed');
        }
      }
      throw e;
    } finally {
      this.reservedNames.delete(nameKey);
    }
  }

  private usernsDeps() {
    this.deps.userns ??= new NativeUsernsSys();
    return { sys: this.deps.sys, userns: this.deps.userns, state: this.deps.config.state };
  }

  private releaseIdmaps(id: string): void {
    const left = releaseIdmaps(this.deps.sys, idmapDir(this.deps.config.state, id));
    if (left.length > 0) this.deps.log.warn({ container: id, left }, 'idmapped mounts left in place');
  }

  private async targetPidNamespace(config: ContainerConfig): Promise<string | undefined> {
    const opts = config.linux?.securityContext?.namespaceOptions;
    if (!opts || opts.pid !== 3 /* TARGET */ || !opts.targetId) return undefined;
    const target = this.store.find(opts.targetId);
    const pid = target && stateOf(target) === ContainerState.CONTAINER_RUNNING ? await this.livePid(target) : undefined;
    if (!pid) throw new NotFoundError(`target container "${opts.targetId}" of the PID namespace is not running`);
    return `/proc/${pid}/ns/pid`;
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

  private logPathFor(sandbox: SandboxRecord, config: ContainerConfig, bundle: string): string {
    if (!config.logPath) return join(bundle, 'ctr.log');
    if (isAbsolute(config.logPath)) return config.logPath;
    if (!sandbox.logDirectory) return join(bundle, config.logPath);
    return join(sandbox.logDirectory, config.logPath);
  }

  private mountOverlay(layer: { lowerdir: string; upperdir: string; workdir: string; mountCwd: string }, target: string): void {
    const abs = (p: string) => (layer.mountCwd ? resolvePath(layer.mountCwd, p) : p);
    const absData = `lowerdir=${layer.lowerdir.split(':').map(abs).join(':')},upperdir=${abs(layer.upperdir)},workdir=${abs(layer.workdir)}`;
    if (!layer.mountCwd || absData.length < 4000) {
      this.deps.sys.mount('overlay', target, 'overlay', 0, absData);
      return;
    }
    // Options too long as absolute paths: mount relative to mountCwd. chdir + mount + chdir are
    // all synchronous, so no other JS runs while the cwd is moved.
    const data = `lowerdir=${layer.lowerdir},upperdir=${layer.upperdir},workdir=${layer.workdir}`;
    const cwd = process.cwd();
    process.chdir(layer.mountCwd);
    try {
      this.deps.sys.mount('overlay', target, 'overlay', 0, data);
    } finally {
      process.chdir(cwd);
    }
  }

  private unmount(target: string): void {
    try {
      this.deps.sys.umount2(target, MNT_DETACH);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOENT') throw e;
    }
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
    const r = this.store.get(id);
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
      // Belt and braces for a missed inotify event.
      const poll = setInterval(() => this.onExitFile(id), 1000);
      const timer = setTimeout(() => done(false), Math.max(0, timeoutMs));
      set.add(wake);
    });
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

  onExitFile(id: string): void {
    const row = this.store.get(id);
    if (!row || row.finishedAt > 0n) return;
    const exit = readExitFile(this.exitDir, id);
    if (!exit) return;
    let { code } = exit;
    let reason = code === 0 ? 'Completed' : 'Error';
    // conmon records an OOM kill it saw in memory.events as persist/oom: under the systemd driver
    // the scope (and its memory.events) may be gone by the time the exit file is read.
    if ((row.cgroupPath && this.cgroups.oomKills(row.cgroupPath) > 0) || existsSync(join(row.bundle, 'persist', 'oom'))) {
      reason = 'OOMKilled';
      code = 137;
    }
    const message = this.terminationMessage(row);
    const finishedAt = exit.at > row.startedAt ? exit.at : nowNs();
    this.store.update(id, { finishedAt, exitCode: code, reason, message });
    this.emit('STOPPED', id);
    this.deps.log.info({ container: id, exitCode: code, reason }, 'container exited');
    this.releaseAfterExit(row);
    for (const w of [...(this.waiters.get(id) ?? [])]) w();
    this.waiters.delete(id);
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

  private terminationMessage(row: ContainerRow): string {
    try {
      const file = terminationMessageSource(row.config.mounts ?? [], row.config.annotations, join(row.bundle, 'termination-log'));
      // the container writes this file: a regular file only, 4096 bytes as kubelet reads it
      return readRegularCapped(file, TERMINATION_MESSAGE_MAX).toString('utf8');
    } catch {
      return '';
    }
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
      // returns; its files (writable layer, bundle, exit file, conmon socket dir) go right after,
      // off the call. A crash before they are gone is cleaned up at start-up: no row owns them
      // any more (recovery/orphan_containers.ts, the image service's sweep of layer dirs).
      new ImageStore(this.deps.db).removeContainer(row.id);
      this.store.delete(row.id);
      this.releasedAtExit.delete(row.id);
      this.emit('DELETED', row.id, row);
      faultPoint('remove-container.after-row-deleted');
      step('row');
      this.deps.log.info({ container: row.id, steps }, 'container removed');
      const files = this.removeFiles(row).finally(() => this.fileRemovals.delete(files));
      this.fileRemovals.add(files);
    });
  }

  private async removeFiles(row: ContainerRow): Promise<void> {
    try {
      await this.deps.images.removeContainerLayer(row.id);
      rmSync(join(this.exitDir, row.id), { force: true });
      rmSync(join(this.socketDir, row.id), { recursive: true, force: true });
      // last: while the bundle is there, start-up recovery finds the rest by it
      rmSync(row.bundle, { recursive: true, force: true });
    } catch (e) {
      this.deps.log.warn({ container: row.id, err: errorMessage(e) }, 'removing a removed container\'s files failed; start-up recovery retries');
    }
  }

  /** Resolves when the files of every container removed so far are gone (pod removal, shutdown). */
  async filesRemoved(): Promise<void> {
    while (this.fileRemovals.size > 0) await Promise.all([...this.fileRemovals]);
  }

  // ---- misc ---------------------------------------------------------------------------------

  async updateResources(idOrPrefix: string, res: LinuxContainerResources | undefined): Promise<void> {
    const row = this.get(idOrPrefix);
    const st = stateOf(row);
    if (st !== ContainerState.CONTAINER_RUNNING && st !== ContainerState.CONTAINER_CREATED) {
      throw new FailedPreconditionError(`container ${row.id} is not running`);
    }
    if (!res) return;
    await this.runtimeFor(row.handler).update(row.id, ociResources(res));
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
    // Several at a time, each bounded: one container's trouble must not stop or stall the start.
    // Only those not known to have exited (the sweep above recorded the exits seen while nori
    // was down): an exited row has nothing to recover, and a bound per row (a timer made and
    // cleared) for thousands of exited rows was a good part of the start.
    const unfinished = this.store.list().filter((r) => r.finishedAt === 0n);
    await eachLimited(unfinished, RECOVERY_WIDTH, (row) =>
      withTimeout(this.recoverOne(row), RECOVERY_TIMEOUT_MS, `recovering container ${row.id}`).catch((e) =>
        this.deps.log.error({ container: row.id, err: errorMessage(e) }, 'recovering a container failed'),
      ),
    );
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

  private async recoverOne(row: ContainerRow): Promise<void> {
    if (row.finishedAt > 0n) return;
    let lost = false;
    const rt = this.runtimeFor(row.handler);
    const quick = quickRuntimeState({
      id: row.id, pid: row.pid, identityFile: join(row.bundle, INIT_IDENTITY_FILE), runtimePath: rt.handler.path, runtimeRoot: rt.handler.root,
    });
    const state = quick
      ? { status: quick }
      : await rt.state(row.id).then(
          (s) => ((lost = s === undefined), s),
          () => undefined,
        );
    if (!state) {
      this.onExitFile(row.id);
      if (this.store.get(row.id)!.finishedAt > 0n) return;
      // The runtime has no such container (its state under /run is gone: a reboot): it cannot
      // be running, and no exit file will ever come. As containerd: exited, 255, "Unknown".
      if (lost) this.recordLostExit(row.id, 255, 'Unknown', 'the container was gone when nori restarted (node reboot?)');
      else this.store.update(row.id, { unknown: true });
      return;
    }
    if (state.status === 'running' && row.startedAt === 0n) this.store.update(row.id, { startedAt: nowNs() });
    if (state.status === 'stopped') this.onExitFile(row.id);
    if ((state.status === 'running' || state.status === 'created') && !liveConmonPid(row.bundle, row.id)) {
      // Its conmon died while nori was down: nobody would ever write its exit file, collect
      // its logs or serve attach. Kill it now and say why, rather than report a ghost.
      await this.runtimeFor(row.handler).kill(row.id, 'SIGKILL', true).catch(() => undefined);
      this.onExitFile(row.id);
      if (this.store.get(row.id)!.finishedAt === 0n) this.recordLostExit(row.id, 137, 'Error', 'conmon (the container monitor) died while nori was down; container killed');
    }
  }

  /** An exit nori saw no exit file for (lost with a reboot, or with a dead conmon). */
  private recordLostExit(id: string, exitCode: number, reason: string, message: string): void {
    this.store.update(id, { finishedAt: nowNs(), exitCode, reason, message, unknown: false });
    this.emit('STOPPED', id);
    this.deps.log.warn({ container: id, exitCode, reason: message }, 'container exit recorded without an exit file');
    for (const w of [...(this.waiters.get(id) ?? [])]) w();
    this.waiters.delete(id);
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

/** CRI LinuxContainerResources → OCI linux.resources (the `runc update --resources` JSON). */
export function ociResources(r: LinuxContainerResources): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const cpu: Record<string, unknown> = {};
  if (r.cpuShares > 0n) cpu.shares = Number(r.cpuShares);
  if (r.cpuQuota !== 0n) cpu.quota = Number(r.cpuQuota);
  if (r.cpuPeriod > 0n) cpu.period = Number(r.cpuPeriod);
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  const mem: Record<string, unknown> = {};
  if (r.memoryLimitInBytes > 0n) mem.limit = Number(r.memoryLimitInBytes);
  if (r.memorySwapLimitInBytes > 0n) mem.swap = Number(r.memorySwapLimitInBytes);
  if (Object.keys(mem).length) out.memory = mem;
  if (Object.keys(r.unified).length) out.unified = r.unified;
  return out;
}
