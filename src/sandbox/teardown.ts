// StopPodSandbox's and RemovePodSandbox's work on one pod, for a caller that holds the pod's lock:
// stopping its processes and network, then releasing pins, files, cgroups and the row.

import { promises as fs } from 'node:fs';
import type { CgroupManager } from '../cgroups/manager';
import type { Config } from '../config';
import { InternalError, errorMessage } from '../errors';
import { faultPoint } from '../fault';
import type { Logger } from '../log';
import { bandwidthFromAnnotations, podRuntimeConf, type RuntimeConf } from '../network';
import type { PodNetwork } from '../network/pod-network';
import type { SandboxStore, SandboxRow } from '../store/sandbox_store';
import { umountQuiet } from '../sys/unpin';
import type { Sys } from '../sys/types';
import type { PodContainerHooks } from './api';
import { isPodInit, killPodInit, unpinAll } from './namespaces';
import { sandboxPaths } from './paths';
import type { StoredRecord } from './record';

export interface TeardownDeps {
  config: Config;
  sys: Sys;
  network: PodNetwork;
  cgroups: CgroupManager;
  store: SandboxStore;
  log: Logger;
}

export type StepMark = (name: string) => void;
const noStep: StepMark = () => undefined;

/** What the pod's network calls (CNI or the built-in one) are told about it. */
export function sandboxRuntimeConf(rec: StoredRecord): RuntimeConf {
  return podRuntimeConf({
    sandboxId: rec.id,
    netns: rec.nsPaths.net ?? '',
    podName: rec.name,
    podNamespace: rec.namespace,
    podUid: rec.uid,
    portMappings: rec.internals.portMappings,
    bandwidth: bandwidthFromAnnotations(rec.annotations),
  });
}

/**
 * Stops the pod's containers, network and init; the row becomes NOTREADY (`onNotReady` is told
 * when it changes). A network failure is thrown after the rest is done.
 */
export async function stopSandbox(
  d: TeardownDeps,
  e: { row: SandboxRow; rec: StoredRecord },
  hooks: PodContainerHooks,
  signal: AbortSignal,
  onNotReady: () => void,
  step: StepMark = noStep,
): Promise<void> {
  const id = e.row.id;
  // Three things, side by side rather than in a row, as each mostly waits in the kernel: the
  // containers' stop (SIGKILL, then conmon's exit file); the network teardown (a veth's
  // unregistering, ≈ 20 ms; nothing in the pod needs the network once it is being killed);
  // and moving the pod init out of the pod's cgroups (the first move waits out an RCU grace
  // period), which killPodInit needs before the kill. The pod init dies after the containers.
  let netErr: unknown;
  let ctrErr: unknown;
  const network = async () => {
    if (e.rec.network === 'NODE' || e.row.networkTornDown) return;
    try {
      // Works with the netns gone too (CniNetwork passes CNI_NETNS=""): the lease is freed.
      await d.network.del(sandboxRuntimeConf(e.rec), { signal });
      faultPoint('stop-pod.after-cni-del');
      d.store.update(id, { networkTornDown: true });
      e.row.networkTornDown = true;
    } catch (err) {
      netErr = err;
    }
    step('network');
  };
  const initPid = e.rec.nsPaths.pid ? e.rec.internals.podInitPid : 0;
  const evicted = initPid ? isPodInit(initPid, e.rec.nsPaths.pid!).then((ours) => (ours ? d.cgroups.evictToRoot(initPid) : undefined)).catch(() => undefined) : Promise.resolve();
  const processes = async () => {
    try {
      await hooks.stopPodContainers(id, signal);
    } catch (err) {
      ctrErr = err;
      return;
    }
    faultPoint('stop-pod.after-containers-stopped');
    step('containers');
    if (e.rec.internals.shmOwned) umountQuiet(d.sys, e.rec.shmPath);
    if (e.rec.nsPaths.pid) await killPodInit(d.sys, e.rec.internals.podInitPid, e.rec.nsPaths.pid, () => evicted);
    step('podInit');
  };
  await Promise.all([network(), processes(), evicted]);
  if (ctrErr) throw ctrErr;
  if (e.row.state !== 'NOTREADY') {
    d.store.update(id, { state: 'NOTREADY' });
    e.row.state = 'NOTREADY';
    onNotReady();
  }
  step('row');
  if (netErr) throw new InternalError(`failed to tear down the network of pod sandbox ${id}: ${errorMessage(netErr)}`);
}

/** Unpins, deletes files and cgroup dirs, and the row. Each step tolerates "already gone". */
export async function releaseSandbox(d: TeardownDeps, id: string, rec: StoredRecord, step: StepMark = noStep): Promise<void> {
  const p = sandboxPaths(d.config.state, id);
  if (rec.internals.shmOwned) umountQuiet(d.sys, p.shm);
  await unpinAll(d.sys, [p.ns.pid, p.ns.net, p.ns.ipc, p.ns.uts, p.ns.user]);
  faultPoint('remove-pod.after-unpin');
  step('unpin');
  await fs.rm(p.dir, { recursive: true, force: true });
  step('dir');
  const kept = await d.cgroups.removeDirs(rec.internals.cgroupCreated);
  if (kept.length > 0) d.log.info({ sandbox: id, kept }, 'cgroup dirs still in use are left in place');
  // The default parent's prefix level is this daemon's, shared by its pods: gone with the last.
  await d.cgroups.removePrefixIfEmpty(d.config.cgroupRootPrefix, rec.cgroupParent).catch(() => undefined);
  step('cgroup');
  d.store.delete(id);
  step('row');
}
