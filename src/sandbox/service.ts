// Pod sandboxes: pinned namespaces (no pause container), CNI, pod files, /dev/shm and a cgroup
// parent. RunPodSandbox builds them in order and undoes them in reverse on any failure; Stop and
// Remove are idempotent; everything is in the store so a restarted daemon picks them up.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { CgroupManager } from '../cgroups/manager';
import { defaultPodParent } from '../cgroups/names';
import { hostIdmapsTmpfs } from './userns_host';
import type { Config } from '../config';
import { AlreadyExistsError, errorMessage } from '../errors';
import { PodSandboxConfig, type RunPodSandboxRequest } from '../gen/api';
import type { Logger } from '../log';
import { podIPsFromResult, type CniNetwork } from '../network';
import type { PodNetwork } from '../network/pod-network';
import { createPodNetwork } from '../network/select';
import { SandboxStore, type SandboxRow } from '../store/sandbox_store';
import type { Db } from '../store/db';
import type { NamespacePaths, Sys } from '../sys/types';
import type { NetSys } from '../sys/net';
import { mkdirp } from '../util/fs';
import type { PodContainerHooks, SandboxLookup, SandboxRecord } from './api';
import { hostFile, hostsFile, resolvConfFrom, writePodFile } from './files';
import { startPodInitInCgroups } from './pod_init';
import { KeyedLock } from '../util/keyed_lock';
import { InFlight, sandboxNameKey } from './name_reservation';
import { pinPidNamespace, pinPodNamespaces, unpinAll } from './namespaces';
import { NativeUsernsSys, type UsernsSys } from '../sys/userns';
import { sandboxPaths } from './paths';
import { encodeRecord, publicRecord, type StoredRecord } from './record';
import { newSandboxRecord, newSandboxRow, pinnedKinds } from './new_record';
import { recoverSandboxes } from './recover';
import { releaseSandbox, sandboxRuntimeConf, stopSandbox, type StepMark, type TeardownDeps } from './teardown';
import { umountQuiet } from '../sys/unpin';
import { nowNs } from '../util/clock';
import { Rollback } from './rollback';
import { planSandbox, type SandboxPlan } from './validate';
import { faultPoint } from '../fault';
import { stepTimer } from '../util/step_timer';

export interface SandboxServiceDeps {
  config: Config;
  db: Db;
  log: Logger;
  sys: Sys;
  /** Default: the configured network (--network) over this CNI network (default: the config's dirs, cache under <root>/cni). */
  network?: PodNetwork;
  cni?: CniNetwork;
  /** The built-in network's kernel interface (default: the addon's). */
  netSys?: NetSys;
  cgroups?: CgroupManager;
  /** Pods with their own user namespace; default: the native one. */
  userns?: UsernsSys;
}

export type PodCreationStage = 'network-adding' | 'network-added';

/** A sandbox as the service holds it in memory (rows minus the config bytes). */
export interface SandboxEntry {
  row: SandboxRow;
  rec: StoredRecord;
}

const NO_HOOKS: PodContainerHooks = {
  stopPodContainers: async () => undefined,
  removePodContainers: async () => undefined,
};

export class SandboxService implements SandboxLookup {
  readonly store: SandboxStore;
  readonly network: PodNetwork;
  readonly cgroups: CgroupManager;
  private readonly config: Config;
  private readonly log: Logger;
  private readonly sys: Sys;
  private readonly userns: UsernsSys;
  private hooks: PodContainerHooks = NO_HOOKS;
  private readonly inFlight = new InFlight<string>();
  private readonly locks = new KeyedLock();
  /** READY and NOTREADY sandboxes (not CREATING), by id. */
  private readonly entries = new Map<string, SandboxEntry>();
  /** Told of each transition right after it (container events report pods as containerd does). */
  readonly listeners: Array<(t: 'READY' | 'NOTREADY' | 'REMOVED', id: string) => void> = [];
  /**
   * Told where RunPodSandbox is while it waits on the network's thread ('network-adding') and
   * once the pod's network is up ('network-added'): inspect/ finds the new pod's kernel facts
   * then, at no cost to the call.
   */
  readonly creationWatchers: Array<(stage: PodCreationStage, rec: StoredRecord) => void> = [];

  constructor(d: SandboxServiceDeps) {
    this.config = d.config;
    this.log = d.log;
    this.sys = d.sys;
    this.userns = d.userns ?? new NativeUsernsSys();
    this.store = new SandboxStore(d.db);
    this.network = d.network ?? createPodNetwork(d.config, d.db, d.netSys, d.cni);
    this.cgroups = d.cgroups ?? new CgroupManager({ driver: d.config.cgroupDriver });
  }

  // ---- SandboxLookup ----

  get(idOrPrefix: string): SandboxRecord | undefined {
    const e = this.resolve(idOrPrefix);
    return e ? publicRecord(e.rec, e.row.state === 'READY' ? 'READY' : 'NOTREADY', e.row.createdAtNs) : undefined;
  }

  setContainerHooks(hooks: PodContainerHooks): void {
    this.hooks = hooks;
  }

  /** The full config of a sandbox as RunPodSandbox received it. */
  podConfig(id: string): PodSandboxConfig | undefined {
    const e = this.entries.get(id);
    return e ? PodSandboxConfig.decode(e.row.config) : undefined;
  }

  entry(idOrPrefix: string): SandboxEntry | undefined {
    return this.resolve(idOrPrefix);
  }

  list(): SandboxEntry[] {
    return [...this.entries.values()];
  }

  ids(): Iterable<string> {
    return this.entries.keys();
  }

  /** Full id, or a prefix matching exactly one sandbox. */
  resolve(idOrPrefix: string): SandboxEntry | undefined {
    if (idOrPrefix === '') return undefined;
    const exact = this.entries.get(idOrPrefix);
    if (exact) return exact;
    let found: SandboxEntry | undefined;
    for (const [id, e] of this.entries) {
      if (!id.startsWith(idOrPrefix)) continue;
      if (found) return undefined;
      found = e;
    }
    return found;
  }

  // ---- RunPodSandbox ----

  async run(req: RunPodSandboxRequest, log: Logger = this.log): Promise<string> {
    const id = randomBytes(32).toString('hex');
    const plan = planSandbox(req, this.config, defaultPodParent(this.config.cgroupDriver, this.config.cgroupRootPrefix, id), () => hostIdmapsTmpfs(this.config.state));
    const key = sandboxNameKey(plan);
    const running = this.inFlight.get(key);
    if (running) {
      log.info({ name: key }, 'RunPodSandbox retry joins the attempt still in flight');
      return running;
    }
    const existing = this.store.byNameKey(key);
    if (existing) throw new AlreadyExistsError(`pod sandbox name "${key}" is already reserved for sandbox ${existing.id}`);
    // Not tied to the request's signal: kubelet's retry joins this attempt instead of racing it.
    return this.inFlight.start(key, () => this.create(id, key, plan, log));
  }

  private async create(id: string, key: string, plan: SandboxPlan, log: Logger): Promise<string> {
    const p = sandboxPaths(this.config.state, id);
    const pin = pinnedKinds(plan);
    const rec = newSandboxRecord(id, plan, p);
    const row = newSandboxRow(rec, key, plan.config, nowNs());
    const inserted = this.store.insert(row);
    if (!inserted.ok) throw new AlreadyExistsError(`pod sandbox name "${key}" is already reserved for sandbox ${inserted.existingId}`);

    const undo = new Rollback();
    undo.push('store row', () => this.store.delete(id));
    const started = performance.now();
    const { steps, step } = stepTimer();
    try {
      mkdirp(p.dir, 0o711);
      undo.push('sandbox dir', () => fs.rm(p.dir, { recursive: true, force: true }));

      const created = await this.cgroups.createParent(plan.cgroupParent);
      rec.internals.cgroupCreated = created;
      undo.push('cgroup parent', async () => void (await this.cgroups.removeDirs(created)));
      this.store.update(id, { record: encodeRecord(rec) });
      step('cgroup');

      const targets: NamespacePaths = {};
      if (pin.net) targets.net = p.ns.net;
      if (pin.ipc) targets.ipc = p.ns.ipc;
      if (pin.uts) targets.uts = p.ns.uts;
      const pinned = await pinPodNamespaces(this.sys, this.userns, {
        targets, user: plan.userns ? { pin: p.ns.user, ...plan.userns } : undefined, hostname: pin.uts ? plan.hostname : undefined, sysctls: plan.sysctls,
      });
      if (pinned.length > 0) undo.push('namespace pins', () => unpinAll(this.sys, pinned));
      faultPoint('run-pod.after-ns-pinned');
      step('pin');

      let initPlaced: Promise<void> = Promise.resolve();
      if (pin.sharedPid) {
        const init = await startPodInitInCgroups(this.sys, this.cgroups, rec, plan.userns ? { user: p.ns.user, ...targets } : targets, log, step);
        const pid = init.pid;
        initPlaced = init.placed;
        undo.push('pod init', async () => {
          await init.placed;
          await this.cgroups.evictToRoot(pid);
          await killPodInitByPid(this.sys, pid);
        });
        step('podInit');
        await pinPidNamespace(this.sys, pid, p.ns.pid);
        undo.push('pid namespace pin', () => unpinAll(this.sys, [p.ns.pid]));
        rec.internals.podInitPid = pid;
        this.store.update(id, { podInitPid: pid, record: encodeRecord(rec) });
      }
      step('pidPin');

      if (!plan.hostIpc) {
        mkdirp(p.shm, 0o755);
        this.sys.mount('shm', p.shm, 'tmpfs', ['MS_NOSUID', 'MS_NODEV', 'MS_NOEXEC'], `mode=1777,size=${this.config.shmSize}`);
        undo.push('shm mount', () => umountQuiet(this.sys, p.shm));
      }
      step('shm');

      let cniResult: string | null = null;
      if (!plan.hostNetwork) {
        const rt = sandboxRuntimeConf(rec);
        // DEL before ADD on the stack: a half-done ADD (veth made, IPAM failed) needs DEL too.
        undo.push('network DEL', async (signal) => void (await this.network.del(rt, { signal })));
        const adding = this.network.add(rt);
        this.watchCreation('network-adding', rec);
        const added = await adding;
        const ips = podIPsFromResult(added.result);
        rec.ip = ips.ip;
        rec.additionalIps = [...ips.additionalIps];
        cniResult = JSON.stringify(added.result.raw);
        faultPoint('run-pod.after-cni-add');
        this.watchCreation('network-added', rec);
      }
      step('cni');

      // Plain writes, no fsync: nothing reads these before the pod is READY (a crash before that
      // rolls the whole pod back), and they are runtime state that a reboot discards with the
      // pod. Three fsyncs were 1-6 ms of every RunPodSandbox where the state dir is on a disk.
      writePodFile(p.hostname, `${rec.hostname}\n`);
      writePodFile(p.hosts, plan.hostNetwork ? hostFile('/etc/hosts') : hostsFile(rec.hostname, [rec.ip, ...rec.additionalIps]));
      writePodFile(p.resolvConf, resolvConfFrom(plan.config.dnsConfig) ?? hostFile('/etc/resolv.conf'));
      step('files');
      await initPlaced;
      step('cgroup2');

      this.store.update(id, { state: 'READY', record: encodeRecord(rec), cniResult });
      faultPoint('run-pod.after-ready-write');
      this.entries.set(id, { row: { ...row, state: 'READY', record: encodeRecord(rec), cniResult, podInitPid: rec.internals.podInitPid || null }, rec });
      step('ready');
      this.emit('READY', id);
      log.info({ sandbox: id, name: key, ip: rec.ip, ms: Math.round(performance.now() - started), steps }, 'pod sandbox ready');
      return id;
    } catch (e) {
      const failed = await undo.run(log);
      log.warn({ sandbox: id, name: key, err: errorMessage(e), rollbackFailed: failed }, 'RunPodSandbox failed; rolled back');
      throw e;
    }
  }

  /** Creation watchers run while the call waits on another thread; their failure is never the call's. */
  private watchCreation(stage: PodCreationStage, rec: StoredRecord): void {
    for (const w of this.creationWatchers) {
      try {
        w(stage, rec);
      } catch (err) {
        this.log.debug({ sandbox: rec.id, stage, err: errorMessage(err) }, 'creation watcher failed');
      }
    }
  }

  private emit(t: 'READY' | 'NOTREADY' | 'REMOVED', id: string): void {
    for (const l of this.listeners) {
      try {
        l(t, id);
      } catch (err) {
        this.log.warn({ sandbox: id, transition: t, err: errorMessage(err) }, 'sandbox listener failed');
      }
    }
  }

  // ---- StopPodSandbox / RemovePodSandbox ----

  /** Missing sandbox: success (kubelet calls again after a restart or a Remove). */
  async stop(idOrPrefix: string, signal: AbortSignal): Promise<void> {
    const e = this.resolve(idOrPrefix);
    if (!e) return;
    await this.locks.run(e.row.id, async () => {
      const { steps, step } = stepTimer();
      const cur = this.entries.get(e.row.id);
      if (!cur) return;
      await this.stopLocked(cur, signal, step);
      this.log.info({ sandbox: cur.row.id, steps }, 'pod sandbox stopped');
    });
  }

  async remove(idOrPrefix: string, signal: AbortSignal): Promise<void> {
    const e = this.resolve(idOrPrefix);
    if (!e) return;
    await this.locks.run(e.row.id, async () => {
      const cur = this.entries.get(e.row.id);
      if (!cur) return;
      const { steps, step } = stepTimer();
      await this.stopLocked(cur, signal, step);
      await this.hooks.removePodContainers(cur.row.id);
      faultPoint('remove-pod.after-containers-removed');
      step('containers-removed');
      await releaseSandbox(this.teardownDeps(), cur.row.id, cur.rec, step);
      this.entries.delete(cur.row.id);
      this.emit('REMOVED', cur.row.id);
      this.log.info({ sandbox: cur.row.id, steps }, 'pod sandbox removed');
    });
  }

  private stopLocked(e: SandboxEntry, signal: AbortSignal, step: StepMark): Promise<void> {
    return stopSandbox(this.teardownDeps(), e, this.hooks, signal, () => this.emit('NOTREADY', e.row.id), step);
  }

  private teardownDeps(): TeardownDeps {
    return { config: this.config, sys: this.sys, network: this.network, cgroups: this.cgroups, store: this.store, log: this.log };
  }

  // ---- start-up ----

  /**
   * Rolls back sandboxes a crash left CREATING, and marks READY ones NOTREADY when a pinned
   * namespace (gone after a reboot: /run is empty) or the pod init is gone.
   */
  async recover(): Promise<void> {
    for (const e of await recoverSandboxes(this.teardownDeps())) this.entries.set(e.row.id, e);
  }
}

/** Rollback right after start: nothing else can have taken the pid yet. */
async function killPodInitByPid(sys: Sys, pid: number): Promise<void> {
  try {
    sys.kill(pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

