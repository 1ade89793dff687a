// ListContainers with the ANDed filter (id prefix, state, sandbox id prefix, labels).

import type { ListContainersRequest, ListContainersResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { imageRefOf, matchesFilter, toContainer } from '../container/views';

export const listContainers = (m: ContainerManager) => async (req: ListContainersRequest): Promise<ListContainersResponse> => ({
  containers: m.store
    .list()
    .filter((r) => matchesFilter(r, req.filter))
    .map((r) => toContainer(r, imageRefOf(m.deps.images, r))),
});
