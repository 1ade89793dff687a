// StartContainer: only from CREATED.

import type { StartContainerRequest, StartContainerResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';

export const startContainer = (m: ContainerManager) => async (req: StartContainerRequest): Promise<StartContainerResponse> => {
  await m.start(req.containerId);
  return {};
};
