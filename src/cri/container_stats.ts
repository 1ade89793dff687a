// ContainerStats and the per-container sample shared with ListContainerStats.

import type { ContainerStats, ContainerStatsRequest, ContainerStatsResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { nowNs } from '../util/clock';
import { toStats } from '../container/views';
import { samplerFor } from '../stats';
import type { ContainerRow } from '../store/container_store';

export async function statsOf(m: ContainerManager, row: ContainerRow): Promise<ContainerStats> {
  const ts = nowNs();
  const sample = row.cgroupPath ? m.cgroups.sample(row.cgroupPath) : {};
  const layer = await m.deps.images.containerLayerUsage(row.id).catch(() => undefined);
  return samplerFor(m).completeContainer(row.id, row.cgroupPath, toStats(row, sample, layer, m.deps.config.root, ts));
}

export const containerStats = (m: ContainerManager) => async (req: ContainerStatsRequest): Promise<ContainerStatsResponse> => ({
  stats: await statsOf(m, m.get(req.containerId)),
});
