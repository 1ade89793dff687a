// CreateContainer's work once the request is checked and its name reserved: the bundle, the
// rootfs mount, the OCI spec, conmon + the runtime's create, and the store row. Every step has
// its undo, run in reverse when a later one fails, so a failed create leaves nothing behind.

import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { NotFoundError, errorMessage } from '../errors';
import { ContainerConfig, ContainerState, LinuxContainerResources, signalToJSON } from '../gen/api';
import type { ImageRecord } from '../image/api';
import { containerCgroupDir } from '../cgroups/names';
import { faultPoint } from '../fault';
import { saveIdentity } from '../proc/identity';
import { removeContainerCgroups } from '../runtime/cgroup_cleanup';
import { conmonCreate } from '../runtime/conmon';
import type { OciRuntime } from '../runtime/oci_runtime';
import type { SandboxRecord } from '../sandbox/api';
import { stateOf, type ContainerRow, type ContainerStore } from '../store/container_store';
import { umountQuiet } from '../sys/unpin';
import type { UsernsSys } from '../sys/userns';
import type { Sys } from '../sys/types';
import { mkdirp } from '../util/fs';
import { stepTimer } from '../util/step_timer';
import { nowNs } from '../util/clock';
import { INIT_IDENTITY_FILE } from './identity_file';
import type { ContainerManagerDeps } from './manager_deps';
import type { OomEvidence } from './oom_evidence';
import type { MountPreparer } from './prepared_mounts';
import { mountOverlay } from './rootfs_mount';
import { needsMountInfo } from './spec/mounts';
import { idmapBindSources, idmapDir, mountUsernsRootfs, openPathForPodRoot, releaseIdmaps } from './userns_mounts';

/** What the manager lends a create. */
export interface CreateContext {
  deps: ContainerManagerDeps;
  store: ContainerStore;
  containersDir: string;
  exitDir: string;
  socketDir: string;
  preparer: MountPreparer;
  oom: OomEvidence;
  runtimeFor(handler: string): OciRuntime;
  usernsDeps(): { sys: Sys; userns: UsernsSys; state: string };
  releaseIdmaps(id: string): void;
  livePid(row: ContainerRow): Promise<number | undefined>;
}

export interface CreateRequest {
  sandbox: SandboxRecord;
  config: ContainerConfig;
  image: ImageRecord;
  imageRef: string;
  /** The container's reserved name (kubelet's name_pod_namespace_uid_attempt). */
  nameKey: string;
}

/** Makes the container and its row; returns its id. */
export async function createContainer(c: CreateContext, r: CreateRequest): Promise<string> {
  const { sandbox, config, image, imageRef, nameKey } = r;
  const id = randomBytes(32).toString('hex');
  const bundle = join(c.containersDir, id);
  const rootfs = join(bundle, 'rootfs');
  const runtime = c.runtimeFor(sandbox.runtimeHandler);
  const undo: (() => Promise<void> | void)[] = [];
  const log = c.deps.log.child({ container: id });
  // Milliseconds per step, logged with "container created" (where CreateContainer's time goes).
  const { steps, step } = stepTimer();
  try {
    mkdirp(rootfs, 0o700);
    undo.push(() => rmSync(bundle, { recursive: true, force: true }));

    const layer = await c.deps.images.createContainerLayer(id, image.id);
    undo.push(() => c.deps.images.removeContainerLayer(id));
    if (sandbox.userns) {
      openPathForPodRoot(c.deps.config.state, [c.containersDir, bundle]);
      mountUsernsRootfs(c.usernsDeps(), id, layer, rootfs, sandbox);
    } else {
      mountOverlay(c.deps.sys, layer, rootfs);
    }
    step('rootfs');
    undo.push(() => umountQuiet(c.deps.sys, rootfs));
    faultPoint('create.after-overlay-mount');

    const [passwd, group] = await Promise.all([
      c.deps.images.readImageFile(image.id, '/etc/passwd'),
      c.deps.images.readImageFile(image.id, '/etc/group'),
    ]);
    step('spec.image-files');
    undo.push(() => c.preparer.forget(id));
    const prepared = await c.preparer.prepare(id, config, runtime.handler, sandbox);
    undo.push(() => prepared.release());
    faultPoint('create.after-prepared-mounts');
    step('spec.mounts');
    const terminationMessagePath = join(bundle, 'termination-log');
    writeFileSync(terminationMessagePath, '', { mode: 0o666 });
    const defaults = { ...c.deps.nodeDefaults({ mountInfo: needsMountInfo(config.mounts) }), recursiveReadOnlySupported: prepared.rroOption };
    const targetPidNamespace = await pidNamespaceOfTarget(c, config);
    step('spec.node');

    const { spec, warnings } = c.deps.buildSpec({
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
      undo.push(() => void releaseIdmaps(c.deps.sys, idmapDir(c.deps.config.state, id)));
      // Image volumes are idmapped layer by layer already (an overlay cannot be idmapped).
      idmapBindSources(c.usernsDeps(), id, spec.mounts.filter((m) => !prepared.idmapped.has(m.source ?? '')), sandbox);
    }
    step('spec.build');
    // A plain write, no fsync: the bundle is fresh (nothing reads config.json before conmon
    // starts) and lives in the volatile state dir, gone with the containers after a crash.
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
    step('spec.write');

    const logPath = logPathFor(sandbox, config, bundle);
    mkdirp(dirname(logPath));

    // A runtime that fails half-way may leave its state and the container's cgroup behind.
    const cgroupsPathOf = typeof spec.linux.cgroupsPath === 'string' ? spec.linux.cgroupsPath : '';
    // Where the runtime puts it in cgroupfs (stats and OOM read there), in either driver.
    const cgroupPath = containerCgroupDir(cgroupsPathOf);
    undo.push(() => void removeContainerCgroups(cgroupsPathOf));
    undo.push(() => runtime.delete(id));
    // conmon makes its attach-socket link there before the runtime runs; a failed create leaves it
    undo.push(() => rmSync(join(c.socketDir, id), { recursive: true, force: true }));
    const created = await conmonCreate({
      conmonPath: c.deps.config.conmon,
      runtime,
      id,
      name: nameKey,
      bundle,
      logPath,
      exitDir: c.exitDir,
      socketDir: c.socketDir,
      terminal: config.tty,
      stdin: config.stdin,
      stdinOnce: config.stdinOnce,
      logLevel: c.deps.config.logLevel === 'trace' ? 'debug' : 'info',
      systemdCgroup: c.deps.config.cgroupDriver === 'systemd',
      step,
    });
    // The container's mount namespace has its own copies now.
    prepared.release();
    // The runtime's bind mounts are the container's own now: the clones can go.
    if (sandbox.userns) c.releaseIdmaps(id);
    if (created.init) saveIdentity(join(bundle, INIT_IDENTITY_FILE), created.init);
    faultPoint('create.after-runtime-create');

    const stopSignal = config.stopSignal
      ? signalToJSON(config.stopSignal)
      : image.config.StopSignal ?? '';
    const res = config.linux?.resources;
    c.store.insert({
      id,
      sandboxId: sandbox.id,
      nameKey,
      imageRef,
      imageId: image.id,
      config,
      handler: runtime.handler.name,
      bundle,
      logPath: config.logPath ? logPath : '',
      cgroupPath,
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
    c.oom.noteBaseline({ bundle, cgroupPath });
    step('record');
    log.info({ pid: created.pid, name: nameKey, steps }, 'container created');
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
  }
}

async function pidNamespaceOfTarget(c: CreateContext, config: ContainerConfig): Promise<string | undefined> {
  const opts = config.linux?.securityContext?.namespaceOptions;
  if (!opts || opts.pid !== 3 /* TARGET */ || !opts.targetId) return undefined;
  const target = c.store.find(opts.targetId);
  const pid = target && stateOf(target) === ContainerState.CONTAINER_RUNNING ? await c.livePid(target) : undefined;
  if (!pid) throw new NotFoundError(`target container "${opts.targetId}" of the PID namespace is not running`);
  return `/proc/${pid}/ns/pid`;
}

function logPathFor(sandbox: SandboxRecord, config: ContainerConfig, bundle: string): string {
  if (!config.logPath) return join(bundle, 'ctr.log');
  if (isAbsolute(config.logPath)) return config.logPath;
  if (!sandbox.logDirectory) return join(bundle, config.logPath);
  return join(sandbox.logDirectory, config.logPath);
}
