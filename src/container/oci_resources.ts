import type { LinuxContainerResources } from '../gen/api';
import { cfsPeriod, cfsQuota, cpusetList } from './spec/resources';

/** CRI LinuxContainerResources → OCI linux.resources (the `runc update --resources` JSON). */
export function ociResources(r: LinuxContainerResources): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const cpu: Record<string, unknown> = {};
  if (r.cpuShares > 0n) cpu.shares = Number(r.cpuShares);
  if (r.cpuQuota !== 0n) cpu.quota = cfsQuota(r.cpuQuota);
  if (r.cpuPeriod !== 0n) cpu.period = cfsPeriod(r.cpuPeriod);
  if (r.cpusetCpus) cpu.cpus = cpusetList(r.cpusetCpus, 'cpuset_cpus');
  if (r.cpusetMems) cpu.mems = cpusetList(r.cpusetMems, 'cpuset_mems');
  if (Object.keys(cpu).length) out.cpu = cpu;
  const mem: Record<string, unknown> = {};
  if (r.memoryLimitInBytes > 0n) mem.limit = Number(r.memoryLimitInBytes);
  if (r.memorySwapLimitInBytes > 0n) mem.swap = Number(r.memorySwapLimitInBytes);
  if (Object.keys(mem).length) out.memory = mem;
  if (Object.keys(r.unified).length) out.unified = r.unified;
  return out;
}
