// One daemon's stats sampling: what cgroup_stats.ts reads, plus usage_nano_cores (from the
// previous sample), available memory, swap, and for pods their task count and network counters
// (/proc/PID/net/dev of a container in the pod's netns; with none running, read from inside the
// pinned netns by the native addon).

import { readFileSync, statSync, type Stats } from 'node:fs';
import { cgroupfsComponents, expandSlice, isSystemdSlice } from '../cgroups/names';
import type { CgroupReader, CgroupSample } from '../container/cgroup_stats';
import {
  ContainerStats, PodSandboxStats, type CpuUsage, type MemoryUsage, type NetworkUsage, type SwapUsage,
} from '../gen/api';
import type { Sys } from '../sys/types';
import { CgroupExtraReader, type CgroupExtra } from './cgroup_extra';
import { CpuRates } from './cpu_rate';
import { parseNetDev, type InterfaceCounters } from './net_dev';

/** What a pod's stats need to know about the pod (a subset of the sandbox record). */
export interface PodIdentity {
  id: string;
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  labels: Record<string, string>;
  annotations: Record<string, string>;
  cgroupParent: string;
  /** The pinned netns; absent for host-network pods (host interfaces are not the pod's). */
  netns?: string;
  /** Pids of the pod's running containers: any one in the netns gives /proc/PID/net/dev cheaply. */
  pids?: number[];
}

const u = (v: bigint | undefined) => (v === undefined ? undefined : { value: v });

export class StatsSampler {
  readonly rates = new CpuRates();
  private readonly extra: CgroupExtraReader;

  constructor(
    readonly cgroups: CgroupReader,
    private readonly sys: Sys,
  ) {
    this.extra = new CgroupExtraReader(cgroups.mountRoot, cgroups.v2, cgroups.files);
  }

  /** Fills usage_nano_cores, available_bytes and swap into stats built from a cgroup sample. */
  completeContainer(id: string, cgroupPath: string, stats: ContainerStats): ContainerStats {
    const ts = stats.cpu?.timestamp ?? stats.memory?.timestamp ?? 0n;
    const usage = stats.cpu?.usageCoreNanoSeconds?.value;
    if (stats.cpu && usage !== undefined) stats.cpu.usageNanoCores = { value: this.rates.rate(id, { at: ts, usageNs: usage }) };
    if (!cgroupPath) return stats;
    const extra = this.extra.sample(cgroupPath, stats.memory?.usageBytes?.value, false);
    if (stats.memory) stats.memory.availableBytes = u(available(extra, stats.memory.workingSetBytes?.value));
    stats.swap = swapUsage(ts, extra);
    return stats;
  }

  /** `ifs`: interfaces already read from the pod's netns (metrics need them too); read if absent. */
  pod(p: PodIdentity, containers: ContainerStats[], ts: bigint, ifs?: InterfaceCounters[]): PodSandboxStats {
    const cgroupPath = podCgroupPath(p.cgroupParent);
    const sample = cgroupPath ? this.cgroups.sample(cgroupPath) : {};
    const extra = cgroupPath ? this.extra.sample(cgroupPath, sample.memoryUsage) : {};
    return PodSandboxStats.fromPartial({
      attributes: { id: p.id, metadata: p.metadata, labels: p.labels, annotations: p.annotations },
      linux: {
        cpu: this.cpu(`pod:${p.id}`, sample, ts),
        memory: memoryUsage(ts, sample, extra),
        network: p.netns ? network(ifs ?? this.interfaces(p.netns, p.pids), ts) : undefined,
        process: extra.pids !== undefined ? { timestamp: ts, processCount: { value: extra.pids } } : undefined,
        containers,
      },
    });
  }

  /** Counters of every interface but lo in the pod's netns; undefined when it cannot be read. */
  interfaces(netns: string, pids: readonly number[] = []): InterfaceCounters[] | undefined {
    try {
      return parseNetDev(netDevViaProcess(netns, pids) ?? this.sys.readNetDevInNetns(netns)).filter((i) => i.name !== 'lo');
    } catch {
      return undefined;
    }
  }

  private cpu(key: string, s: CgroupSample, ts: bigint): CpuUsage | undefined {
    if (s.cpuUsageNs === undefined) return undefined;
    return { timestamp: ts, usageCoreNanoSeconds: { value: s.cpuUsageNs }, usageNanoCores: { value: this.rates.rate(key, { at: ts, usageNs: s.cpuUsageNs }) }, psi: undefined };
  }
}

function network(ifs: InterfaceCounters[] | undefined, ts: bigint): NetworkUsage | undefined {
  if (!ifs) return undefined;
  const usage = ifs.map((i) => ({ name: i.name, rxBytes: { value: i.rxBytes }, rxErrors: { value: i.rxErrors }, txBytes: { value: i.txBytes }, txErrors: { value: i.txErrors } }));
  // kubelet takes the pod's traffic from default_interface: eth0 as CNI names it, as containerd.
  return { timestamp: ts, defaultInterface: usage.find((i) => i.name === 'eth0') ?? usage[0], interfaces: usage };
}

/**
 * /proc/PID/net/dev of a process in the pod's netns (one file read, against a thread entering the
 * netns); undefined when none is. The namespace is checked before and after the read, so a pid
 * that exited and was reused meanwhile cannot hand over another namespace's counters.
 */
export function netDevViaProcess(netns: string, pids: readonly number[]): string | undefined {
  if (pids.length === 0) return undefined;
  let want: Stats;
  try {
    want = statSync(netns);
  } catch {
    return undefined;
  }
  const same = (pid: number) => {
    const st = statSync(`/proc/${pid}/ns/net`, { throwIfNoEntry: false });
    return st !== undefined && st.ino === want.ino && st.dev === want.dev;
  };
  for (const pid of pids) {
    try {
      if (!(pid > 0) || !same(pid)) continue;
      const text = readFileSync(`/proc/${pid}/net/dev`, 'utf8');
      if (same(pid)) return text;
    } catch {
      // gone meanwhile: try the next one
    }
  }
  return undefined;
}

function available(extra: CgroupExtra, workingSet: bigint | undefined): bigint | undefined {
  if (extra.memoryLimit === undefined || workingSet === undefined) return undefined;
  return extra.memoryLimit > workingSet ? extra.memoryLimit - workingSet : 0n;
}

function memoryUsage(ts: bigint, s: CgroupSample, extra: CgroupExtra): MemoryUsage | undefined {
  if (s.memoryUsage === undefined) return undefined;
  return {
    timestamp: ts,
    workingSetBytes: u(s.workingSet),
    availableBytes: u(available(extra, s.workingSet)),
    usageBytes: u(s.memoryUsage),
    rssBytes: u(s.rss),
    pageFaults: u(s.pageFaults),
    majorPageFaults: u(s.majorPageFaults),
    psi: undefined,
  };
}

function swapUsage(ts: bigint, extra: CgroupExtra): SwapUsage | undefined {
  if (extra.swapUsage === undefined) return undefined;
  return { timestamp: ts, swapUsageBytes: u(extra.swapUsage), swapAvailableBytes: u(extra.swapLimit === undefined ? undefined : extra.swapLimit > extra.swapUsage ? extra.swapLimit - extra.swapUsage : 0n) };
}

/** The pod's cgroupfs path from its parent (cgroupfs path, or a systemd slice name). */
export function podCgroupPath(parent: string): string {
  if (!parent) return '';
  try {
    return isSystemdSlice(parent) ? expandSlice(parent) : `/${cgroupfsComponents(parent).join('/')}`;
  } catch {
    return '';
  }
}
