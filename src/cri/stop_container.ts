// StopContainer: stop signal, grace period `timeout` seconds, then SIGKILL. Missing or stopped is success.

import type { StopContainerRequest, StopContainerResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';

export const stopContainer = (m: ContainerManager) => async (req: StopContainerRequest): Promise<StopContainerResponse> => {
  await m.stop(req.containerId, Number(req.timeout));
  return {};
};
