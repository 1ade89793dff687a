// Pod-level resources as systemd unit properties, for UpdatePodSandboxResources under the
// systemd driver: systemd owns the pod slice, and a value written straight into its cgroupfs
// files is undone the next time systemd applies the unit's own properties. The conversions are
// runc's (libcontainer/cgroups/systemd): shares → CPUWeight, quota/period → CPUQuotaPerSecUSec
// rounded up to systemd's 10 ms granularity.

import type { LinuxContainerResources } from '../gen/api';
import type { UnitProperty } from './systemd';

export interface SliceResources {
  props: UnitProperty[];
  /** [file, value] that systemd has no property for (cpuset, unified keys): written directly. */
  files: Array<[string, string]>;
}

export function sliceResources(r: LinuxContainerResources): SliceResources {
  const props: UnitProperty[] = [];
  const files: Array<[string, string]> = [];
  if (r.cpuShares > 0n) props.push(['CPUWeight', 't', 1n + ((r.cpuShares - 2n) * 9999n) / 262142n]);
  if (r.cpuPeriod > 0n) props.push(['CPUQuotaPeriodUSec', 't', r.cpuPeriod]);
  if (r.cpuQuota !== 0n) {
    const period = r.cpuPeriod > 0n ? r.cpuPeriod : 100_000n;
    let perSec = r.cpuQuota > 0n ? (r.cpuQuota * 1_000_000n) / period : -1n;
    if (perSec > 0n && perSec % 10_000n !== 0n) perSec = (perSec / 10_000n + 1n) * 10_000n;
    // UINT64_MAX is systemd's "no quota".
    props.push(['CPUQuotaPerSecUSec', 't', perSec > 0n ? perSec : 0xffff_ffff_ffff_ffffn]);
  }
  if (r.memoryLimitInBytes > 0n) props.push(['MemoryMax', 't', r.memoryLimitInBytes]);
  if (r.cpusetCpus) files.push(['cpuset.cpus', r.cpusetCpus]);
  if (r.cpusetMems) files.push(['cpuset.mems', r.cpusetMems]);
  for (const [k, v] of Object.entries(r.unified)) {
    if (k === 'pids.max' && /^\d+$/.test(v)) props.push(['TasksMax', 't', BigInt(v)]);
    else if (k === 'memory.max' && /^\d+$/.test(v)) props.push(['MemoryMax', 't', BigInt(v)]);
    else files.push([k, v]);
  }
  return { props, files };
}
