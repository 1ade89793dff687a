// The seeds' model of a pod and of a container, read from the kernel for verbose
// PodSandboxStatus / ContainerStatus (`crictl inspectp` / `crictl inspect`, and `nori inspect`):
// namespaces, cgroup, root filesystem layers, network and netfilter rules, pids. It goes into
// the "info" JSON document under the key "kernel".
//
// What cannot change while a pod keeps its state, or while a container's init lives (namespace
// inodes, which cgroup directories and files exist, the overlay's dirs, the veth pair and its
// addresses, the built-in network's rules for the pod), is read from the kernel on the first ask
// and kept in a facts object per pod or container (verbose.ts keeps them); limits, usage and
// pids are read on every call.

import { join } from 'node:path';
import type { SandboxRecord } from '../sandbox/api';
import { discoverPathCgroup, discoverProcessCgroup, pidsUnder, procsDirOf, type CgroupView } from './cgroup';
import { KeptCgroupFiles } from './cgroup_files';
import { hostInodes, inodesOf, podNamespaces, processNamespaces, type NamespaceEntry } from './namespaces';
import { builtinNetfilter, podNetfilter, type NetfilterView } from './netfilter';
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

/** A pod's kernel facts, found on the first ask. Make a new one when the pod's state changes. */
export class PodKernelFacts {
  private namespaces?: NamespaceEntry[];
  private cgroup?: KeptCgroupFiles;
  private network?: Promise<NetworkView | null>;
  /** Kept only on the built-in network: nori's own table is the only place its rules live. */
  private builtinRules?: Promise<NetfilterView | null>;

  constructor(
    private readonly pod: PodFacts,
    private readonly initPid: number,
  ) {}

  /**
   * Finds the namespaces and the cgroup's shape now, before anyone asks (RunPodSandbox calls this
   * while it waits on the network's thread, so the first verbose ask costs what a later one does).
   */
  warmLocal(): void {
    if (!this.cgroup) this.discoverCgroup();
    this.cgroup?.prepare();
    this.namespaces ??= podNamespaces(this.pod.nsPaths);
  }

  /** Starts the network and rule reads (threads of their own) once the pod's network is up; their answers are kept. */
  warmNetwork(): void {
    if (this.hostNet()) return;
    const network = (this.network ??= podNetwork(this.pod.nsPaths.net!));
    network.then((net) => this.builtin(bridgeOf(net), this.ips())).catch(() => undefined);
  }

  private hostNet(): boolean {
    return this.pod.network === 'NODE' || !this.pod.nsPaths.net;
  }

  private ips(): string[] {
    return [this.pod.ip, ...this.pod.additionalIps].filter(Boolean);
  }

  private discoverCgroup(): CgroupView {
    const d = discoverPathCgroup(this.pod.cgroupParent);
    if (d.shape.hierarchies.length > 0) this.cgroup = new KeptCgroupFiles(d.shape);
    return d.view;
  }

  /** Closes the cgroup files kept open (the facts are forgotten). */
  close(): void {
    this.cgroup?.close();
  }

  /**
   * The PodKernelView as JSON text: the cgroup files' contents are spliced into kept text
   * (KeptCgroupFiles.readJson), and what stays (namespaces, a kept network or rule view) is
   * stringified once.
   */
  async viewJson(): Promise<string> {
    const pod = this.pod;
    const hostNet = this.hostNet();
    // Started first: netlink and nft answer on threads of their own while the files are read here.
    const network = hostNet ? Promise.resolve(null) : (this.network ??= podNetwork(pod.nsPaths.net!));
    const netfilter = hostNet ? Promise.resolve(null) : this.netfilter(network, this.ips());
    let cgroup: string;
    let procsDir: string | undefined;
    if (this.cgroup) {
      cgroup = this.cgroup.readJson();
      procsDir = procsDirOf(this.cgroup.shape);
    } else {
      const found = this.discoverCgroup();
      cgroup = JSON.stringify(found);
      procsDir = procsDirOf(found);
    }
    this.namespaces ??= podNamespaces(pod.nsPaths);
    const pids = procsDir ? (this.cgroup?.pidsUnder(procsDir) ?? pidsUnder(procsDir)) : [];
    const net = await network;
    const rules = await netfilter;
    if (net?.error) this.network = undefined; // not read: try again on the next ask
    const init = this.initPid > 0 ? this.initPid : null;
    return `{"namespaces":${jsonOf(this.namespaces)},"cgroup":${cgroup},"network":${jsonOf(net)},"netfilter":${jsonOf(rules)},"pids":{"init":${init},"inCgroup":${JSON.stringify(pids)}}}`;
  }

  private async netfilter(network: Promise<NetworkView | null>, ips: string[]): Promise<NetfilterView | null> {
    const bridge = bridgeOf(await network);
    // CNI plugins and whatever else writes iptables may change the pod's rules at any time: read each call.
    return (await this.builtin(bridge, ips)) ?? podNetfilter(ips, this.pod.id, bridge);
  }

  private builtin(bridge: string | undefined, ips: string[]): Promise<NetfilterView | null> {
    if (!this.builtinRules) {
      this.builtinRules = builtinNetfilter(ips, this.pod.id, bridge);
      this.builtinRules.then((r) => r === null && (this.builtinRules = undefined), () => (this.builtinRules = undefined));
    }
    return this.builtinRules;
  }
}

/** The bridge tells which network served the pod: only a CNI-served one needs iptables-save. */
function bridgeOf(net: NetworkView | null): string | undefined {
  return net?.error ? undefined : net?.interfaces.find((i) => i.peer)?.peer?.bridge;
}

/** Kept views (namespaces, a pod's network, the built-in network's rules) are stringified once. */
const jsonTexts = new WeakMap<object, string>();

function jsonOf(value: object | null): string {
  if (value === null) return 'null';
  let text = jsonTexts.get(value);
  if (text === undefined) {
    text = JSON.stringify(value);
    jsonTexts.set(value, text);
  }
  return text;
}

interface ContainerFactsInput {
  pid: number;
  cgroupPath: string;
  bundle: string;
  running: boolean;
}

/** A container's kernel facts while one init process lives (or while it does not run). */
export class ContainerKernelFacts {
  readonly pid: number;
  private namespaces?: NamespaceEntry[];
  private cgroup?: KeptCgroupFiles;
  private rootfs?: OverlayView | null;

  constructor(
    private readonly c: ContainerFactsInput,
    private readonly pod: Pick<SandboxRecord, 'nsPaths'> | undefined,
    private readonly layerStoreDir: string,
  ) {
    this.pid = c.running && c.pid > 0 ? c.pid : 0;
  }

  /** Finds what stays while this init lives, before anyone asks (StartContainer calls it: it has the time). */
  warm(): void {
    if (this.pid && this.cgroup === undefined) this.discoverCgroup();
    this.cgroup?.prepare();
    this.warmFixed();
    // stringified now, so the first ask only splices them in
    jsonOf(this.namespacesShown());
    if (this.rootfs) jsonOf(this.rootfs);
  }

  private discoverCgroup(): void {
    const d = discoverProcessCgroup(this.pid, this.c.cgroupPath);
    if (d) this.cgroup = new KeptCgroupFiles(d.shape);
  }

  private warmFixed(): void {
    if (this.namespaces === undefined && this.pid) {
      const host = hostInodes();
      const podInodes = this.pod ? inodesOf(podNamespaces(this.pod.nsPaths, host)) : {};
      this.namespaces = processNamespaces(this.pid, podInodes, host);
    }
    // Mounted at create and kept until remove; not found yet (being made) is asked again.
    if (!this.rootfs) this.rootfs = containerOverlay(join(this.c.bundle, 'rootfs'), this.layerStoreDir) ?? null;
  }

  /** Closes the cgroup files kept open (the facts are forgotten). */
  close(): void {
    this.cgroup?.close();
  }

  /**
   * The ContainerKernelView as JSON text: the cgroup files are read into kept text
   * (KeptCgroupFiles.readJson), and what stays (namespaces, the overlay) is stringified once.
   */
  viewJson(): string {
    const pid = this.pid;
    if (pid && this.cgroup === undefined) this.discoverCgroup();
    const cgroup = pid ? this.cgroup : undefined;
    this.warmFixed();
    const procsDir = cgroup ? procsDirOf(cgroup.shape) : undefined;
    return `{"namespaces":${jsonOf(this.namespacesShown())},"cgroup":${cgroup ? cgroup.readJson() : 'null'},"rootfs":${jsonOf(this.rootfs ?? null)},"pids":{"init":${pid || null},"inCgroup":${JSON.stringify(this.pidsIn(procsDir))}}}`;
  }

  private namespacesShown(): NamespaceEntry[] {
    return this.pid ? this.namespaces ?? [] : [];
  }

  private pidsIn(procsDir: string | undefined): number[] {
    return procsDir ? (this.cgroup?.pidsUnder(procsDir) ?? pidsUnder(procsDir)) : [];
  }
}
