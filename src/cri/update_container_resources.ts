// UpdateContainerResources: synchronous `runc update`; errors surface to the caller.

import type { UpdateContainerResourcesRequest, UpdateContainerResourcesResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';

export const updateContainerResources = (m: ContainerManager) => async (req: UpdateContainerResourcesRequest): Promise<UpdateContainerResourcesResponse> => {
  await m.updateResources(req.containerId, req.linux);
  return {};
};
