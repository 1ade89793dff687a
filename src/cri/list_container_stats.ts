// ListContainerStats: stats of the containers matching the filter (all states, as containerd).

import type { ListContainerStatsRequest, ListContainerStatsResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { matchesFilter } from '../container/views';
import { statsOf } from './container_stats';

export const listContainerStats = (m: ContainerManager) => async (req: ListContainerStatsRequest): Promise<ListContainerStatsResponse> => ({
  stats: await Promise.all(m.store.list().filter((r) => matchesFilter(r, req.filter)).map((r) => statsOf(m, r))),
});
