// RemoveContainer: idempotent; kills a running container first.

import type { RemoveContainerRequest, RemoveContainerResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';

export const removeContainer = (m: ContainerManager) => async (req: RemoveContainerRequest): Promise<RemoveContainerResponse> => {
  await m.remove(req.containerId);
  return {};
};
