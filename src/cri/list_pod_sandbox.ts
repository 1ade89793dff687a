import type { ListPodSandboxRequest, ListPodSandboxResponse } from '../gen/api';
import type { SandboxService } from '../sandbox/service';
import { filterSandboxes, toListItem } from '../sandbox/status';
import type { UnaryHandler } from './context';

export function listPodSandbox(s: SandboxService): UnaryHandler<ListPodSandboxRequest, ListPodSandboxResponse> {
  return async (req) => ({ items: filterSandboxes(s.list(), req.filter).map(toListItem) });
}
