// CreateContainer: see ContainerManager.create for the steps and their rollback.

import type { CreateContainerRequest, CreateContainerResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { checkContainerRequest } from './validate_container';

export const createContainer = (m: ContainerManager) => async (req: CreateContainerRequest): Promise<CreateContainerResponse> => {
  checkContainerRequest(req.podSandboxId, req.config);
  return { containerId: await m.create(req.podSandboxId, req.config) };
};
