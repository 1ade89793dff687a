// CreateContainer: see ContainerManager.create for the steps and their rollback.

import type { CreateContainerRequest, CreateContainerResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';

export const createContainer = (m: ContainerManager) => async (req: CreateContainerRequest): Promise<CreateContainerResponse> => ({
  containerId: await m.create(req.podSandboxId, req.config),
});
