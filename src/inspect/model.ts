// The seeds' model of a pod and of a container, read from the kernel for verbose
// PodSandboxStatus / ContainerStatus (`crictl inspectp` / `crictl inspect`, and `nori inspect`):
// namespaces, cgroup, root filesystem layers, network and netfilter rules, pids. It goes into
// the "info" JSON document under the key "kernel".

import { join } from 'node:path';
import type { SandboxRecord } from '../sandbox/api';
import { pathCgroup, pidsUnder, processCgroup, type CgroupView } from './cgroup';
import { hostInodes, inodesOf, podNamespaces, processNamespaces, type NamespaceEntry } from './namespaces';
import { podNetfilter, type NetfilterView } from './netfilter';
import { podNetwork, type NetworkView } from './network';
import { containerOverlay, type OverlayView } from './overlay';

export interface PodKernelView {
  namespaces: NamespaceEntry[];
  cgroup: CgroupView;
  network: NetworkView | null;
  netfilter: NetfilterView | null;
  pids: { init: number | null; inCgroup: number[] };
}

export interface ContainerKernelView {
  namespaces: NamespaceEntry[];
  cgroup: CgroupView | null;
  rootfs: OverlayView | null;
  pids: { init: number | null; inCgroup: number[] };
}

type PodFacts = Pick<SandboxRecord, 'id' | 'nsPaths' | 'cgroupParent' | 'ip' | 'additionalIps' | 'network'>;

export async function podKernelView(pod: PodFacts, initPid: number): Promise<PodKernelView> {
  const cgroup = pathCgroup(pod.cgroupParent);
  const hostNet = pod.network === 'NODE' || !pod.nsPaths.net;
  const ips = [pod.ip, ...pod.additionalIps].filter(Boolean);
  const network = hostNet ? null : await podNetwork(pod.nsPaths.net!);
  // The bridge tells which network served the pod: only a CNI-served one needs iptables-save.
  const bridge = network?.error ? undefined : network?.interfaces.find((i) => i.peer)?.peer?.bridge;
  const netfilter = hostNet ? null : await podNetfilter(ips, pod.id, bridge);
  const procsDir = cgroup.hierarchies.find((h) => h.controllers.includes('pids') || h.controllers.includes('memory') || h.id === 0)?.dir;
  return {
    namespaces: podNamespaces(pod.nsPaths),
    cgroup,
    network,
    netfilter,
    pids: { init: initPid > 0 ? initPid : null, inCgroup: procsDir ? pidsUnder(procsDir) : [] },
  };
}

export function containerKernelView(
  c: { pid: number; cgroupPath: string; bundle: string; running: boolean },
  pod: Pick<SandboxRecord, 'nsPaths'> | undefined,
  layerStoreDir: string,
): ContainerKernelView {
  const host = hostInodes();
  const podInodes = pod ? inodesOf(podNamespaces(pod.nsPaths, host)) : {};
  const pid = c.running && c.pid > 0 ? c.pid : 0;
  const cgroup = pid ? processCgroup(pid, c.cgroupPath) ?? null : null;
  const procsDir = cgroup?.hierarchies.find((h) => h.controllers.includes('pids') || h.controllers.includes('memory') || h.id === 0)?.dir;
  return {
    namespaces: pid ? processNamespaces(pid, podInodes, host) : [],
    cgroup,
    rootfs: containerOverlay(join(c.bundle, 'rootfs'), layerStoreDir) ?? null,
    pids: { init: pid || null, inCgroup: procsDir ? pidsUnder(procsDir) : [] },
  };
}
