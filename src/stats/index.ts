// One StatsSampler per container manager (a daemon has one; the CPU-rate memory lives there).

import type { ContainerManager } from '../container/manager';
import { StatsSampler } from './sampler';

const samplers = new WeakMap<ContainerManager, StatsSampler>();

export function samplerFor(m: ContainerManager): StatsSampler {
  let s = samplers.get(m);
  if (!s) samplers.set(m, (s = new StatsSampler(m.cgroups, m.deps.sys)));
  return s;
}

export { StatsSampler, podCgroupPath, type PodIdentity } from './sampler';
export { parseNetDev, type InterfaceCounters } from './net_dev';
export { CpuRates } from './cpu_rate';
