// ReopenContainerLog: asks the container's conmon to reopen its log file (kubelet rotated it).

import type { ReopenContainerLogRequest, ReopenContainerLogResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';

export const reopenContainerLog = (m: ContainerManager) => async (req: ReopenContainerLogRequest): Promise<ReopenContainerLogResponse> => {
  await m.reopenLog(req.containerId);
  return {};
};
