// UpdatePodSandboxResources: kubelet resized a pod in place; apply the pod-level limits to the
// pod's cgroup. Best effort, as the CRI defines it: a limit the kernel refuses is logged and
// the call still succeeds (kubelet owns the pod cgroup on most nodes and sets it as well).

import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError, errorMessage } from '../errors';
import type { LinuxContainerResources, UpdatePodSandboxResourcesRequest, UpdatePodSandboxResourcesResponse } from '../gen/api';
import type { SandboxService } from '../sandbox/service';
import { sliceResources } from '../cgroups/systemd_resources';
import { podCgroupPath } from '../stats';
import type { UnaryHandler } from './context';

/** [controller dir (v1), file, value] writes for one resource set. */
export function cgroupWrites(r: LinuxContainerResources, v2: boolean): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  if (v2) {
    // cgroup v2 weight from v1 shares, as runc converts it.
    if (r.cpuShares > 0n) out.push(['', 'cpu.weight', String(1n + ((r.cpuShares - 2n) * 9999n) / 262142n)]);
    if (r.cpuQuota !== 0n || r.cpuPeriod > 0n) out.push(['', 'cpu.max', `${r.cpuQuota > 0n ? r.cpuQuota : 'max'} ${r.cpuPeriod > 0n ? r.cpuPeriod : 100000n}`]);
    if (r.memoryLimitInBytes > 0n) out.push(['', 'memory.max', String(r.memoryLimitInBytes)]);
    if (r.cpusetCpus) out.push(['', 'cpuset.cpus', r.cpusetCpus]);
    if (r.cpusetMems) out.push(['', 'cpuset.mems', r.cpusetMems]);
    for (const [k, v] of Object.entries(r.unified)) out.push(['', k, v]);
    return out;
  }
  if (r.cpuShares > 0n) out.push(['cpu', 'cpu.shares', String(r.cpuShares)]);
  if (r.cpuPeriod > 0n) out.push(['cpu', 'cpu.cfs_period_us', String(r.cpuPeriod)]);
  if (r.cpuQuota !== 0n) out.push(['cpu', 'cpu.cfs_quota_us', String(r.cpuQuota)]);
  if (r.memoryLimitInBytes > 0n) out.push(['memory', 'memory.limit_in_bytes', String(r.memoryLimitInBytes)]);
  if (r.cpusetCpus) out.push(['cpuset', 'cpuset.cpus', r.cpusetCpus]);
  if (r.cpusetMems) out.push(['cpuset', 'cpuset.mems', r.cpusetMems]);
  return out;
}

export function updatePodSandboxResources(s: SandboxService): UnaryHandler<UpdatePodSandboxResourcesRequest, UpdatePodSandboxResourcesResponse> {
  return async (req, ctx) => {
    const e = s.entry(req.podSandboxId);
    if (!e) throw new NotFoundError(`pod sandbox "${req.podSandboxId}" not found`);
    const path = podCgroupPath(e.rec.cgroupParent);
    if (!req.resources || !path) return {};
    const v2 = s.cgroups.layout === 'v2';
    const failed: string[] = [];
    let writes = cgroupWrites(req.resources, v2);
    if (s.cgroups.driver === 'systemd') {
      // systemd owns the slice: its properties, and only what it has none for as files.
      const { props, files } = sliceResources(req.resources);
      const slice = path.split('/').pop() ?? '';
      await s.cgroups.systemd.setProperties(slice, props).catch((err) => failed.push(`${slice} properties: ${errorMessage(err)}`));
      writes = files.map(([file, value]) => ['', file, value]);
    }
    for (const [controller, file, value] of writes) {
      const target = join(s.cgroups.root, controller, path, file);
      try {
        await fs.writeFile(target, value);
      } catch (err) {
        failed.push(`${target}=${value}: ${errorMessage(err)}`);
      }
    }
    if (failed.length > 0) ctx.log.warn({ sandbox: e.rec.id, failed }, 'some pod-level resources were not applied');
    return {};
  };
}
