// Cgroup resources, cgroups path and oom_score_adj from the CRI LinuxContainerResources.

import { InvalidArgumentError } from '../../errors';
import type { LinuxContainerResources } from '../../gen/api';

export interface OciResources {
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  memory?: { limit?: number; swap?: number };
  hugepageLimits?: { pageSize: string; limit: number }[];
  unified?: Record<string, string>;
}

export interface ResourceEnv {
  hugetlbAvailable: boolean;
  swapAvailable: boolean;
  cgroupV2: boolean;
}

/** What the node offers, from its defaults (node_defaults.ts). */
export function resourceEnvOf(d: { hugetlbAvailable: boolean; swapAvailable?: boolean; cgroupV2?: boolean }): ResourceEnv {
  return { hugetlbAvailable: d.hugetlbAvailable, swapAvailable: d.swapAvailable ?? false, cgroupV2: d.cgroupV2 ?? false };
}

const num = (v: bigint, what: string): number => {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InvalidArgumentError(`${what} ${v} is out of range`);
  }
  return Number(v);
};

/**
 * A cpuset list as the kernel parses it (lib/bitmap-str.c, bitmap_parselist): comma-separated
 * N, N-M with N <= M, or N-M:used/group. Checked here so a bad one is the request's error, not
 * the runtime's failed write of cpuset.cpus (EINVAL), which answered INTERNAL.
 */
export function cpusetList(value: string, field: string): string {
  const ok = value.length <= 4096 && value.split(',').every((region) => {
    const m = /^(\d{1,7})(?:-(\d{1,7})(?::(\d{1,7})\/(\d{1,7}))?)?$/.exec(region);
    if (!m) return false;
    if (m[2] !== undefined && Number(m[2]) < Number(m[1])) return false;
    return m[3] === undefined || (Number(m[4]) > 0 && Number(m[3]) <= Number(m[4]));
  });
  if (!ok) throw new InvalidArgumentError(`${field} ${JSON.stringify(value.slice(0, 64))} is not a cpu/node list such as 0-3,6`);
  return value;
}

/**
 * CFS bandwidth as the kernel takes it (kernel/sched/core.c, tg_set_cfs_bandwidth): a period of
 * 1 ms to 1 s, and a quota of at least 1 ms or negative (no limit). kubelet never asks for less
 * (its MinQuotaPeriod is 1000); anything else was the runtime's failed write, answered INTERNAL.
 */
export function cfsQuota(v: bigint): number {
  if (v > 0n && v < 1000n) throw new InvalidArgumentError(`cpu_quota ${v} is below the kernel's 1000 µs minimum (or negative for no limit)`);
  return num(v, 'cpu_quota');
}

export function cfsPeriod(v: bigint): number {
  if (v < 1000n || v > 1_000_000n) throw new InvalidArgumentError(`cpu_period ${v} is outside the kernel's 1000-1000000 µs`);
  return Number(v);
}

/**
 * Only fields the request sets (non-zero), as containerd's WithResources. The same for
 * CreateContainer and UpdateContainerResources: an update that raised the memory limit without
 * raising swap with it failed on cgroup v1, where memory.limit_in_bytes may not pass the
 * memsw limit that create set equal to the old limit.
 */
export function buildResources(r: LinuxContainerResources | undefined, env: ResourceEnv, warnings: string[]): OciResources {
  const out: OciResources = {};
  if (!r) return out;
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (r.cpuShares !== 0n) cpu.shares = num(r.cpuShares, 'cpu_shares');
  if (r.cpuQuota !== 0n) cpu.quota = cfsQuota(r.cpuQuota);
  if (r.cpuPeriod !== 0n) cpu.period = cfsPeriod(r.cpuPeriod);
  if (r.cpusetCpus) cpu.cpus = cpusetList(r.cpusetCpus, 'cpuset_cpus');
  if (r.cpusetMems) cpu.mems = cpusetList(r.cpusetMems, 'cpuset_mems');
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  const memory: NonNullable<OciResources['memory']> = {};
  if (r.memoryLimitInBytes !== 0n) {
    memory.limit = num(r.memoryLimitInBytes, 'memory_limit_in_bytes');
    // Swap equal to the limit: no swapping unless asked for.
    if (r.memorySwapLimitInBytes === 0n && env.swapAvailable) memory.swap = memory.limit;
  }
  if (r.memorySwapLimitInBytes !== 0n) {
    if (env.swapAvailable) memory.swap = num(r.memorySwapLimitInBytes, 'memory_swap_limit_in_bytes');
    else warnings.push('swap limit requested but the swap controller is not available; ignored');
  }
  if (Object.keys(memory).length > 0) out.memory = memory;

  if (r.hugepageLimits.length > 0) {
    if (env.hugetlbAvailable) {
      out.hugepageLimits = r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: num(h.limit, 'hugepage limit') }));
    } else {
      warnings.push('hugetlb controller not available: hugepage limits dropped');
    }
  }
  const unifiedKeys = Object.keys(r.unified ?? {});
  if (unifiedKeys.length > 0) {
    if (env.cgroupV2) out.unified = { ...r.unified };
    else warnings.push(`unified resources need cgroup v2; ignored: ${unifiedKeys.join(', ')}`);
  }
  return out;
}

/** The daemon cannot lower its own score here (no CAP_SYS_RESOURCE), so lower asks are raised. */
export function clampOomScoreAdj(requested: bigint, min: number, warnings: string[]): number {
  let v = Number(requested);
  if (v < -1000 || v > 1000) throw new InvalidArgumentError(`oom_score_adj ${requested} out of range [-1000, 1000]`);
  if (v < min) {
    warnings.push(`oom_score_adj ${v} raised to ${min}, the runtime's own`);
    v = min;
  }
  return v;
}

/** cgroupfs: `<parent>/nori-<id>`; systemd: `<slice>:nori:<id>`. */
export function cgroupsPath(parent: string, containerId: string, driver: 'cgroupfs' | 'systemd'): string {
  if (driver === 'systemd') {
    const slice = parent.split('/').filter(Boolean).pop() ?? '';
    return `${slice}:nori:${containerId}`;
  }
  const base = parent === '' ? '/' : parent;
  return `${base.replace(/\/+$/, '')}/nori-${containerId}`;
}
