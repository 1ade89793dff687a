// ContainerStatus, with `verbose` info (pid, OCI spec) under the "info" key as containerd does.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerStatusRequest, ContainerStatusResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { imageRefOf, toStatus } from '../container/views';

export const containerStatus = (m: ContainerManager) => async (req: ContainerStatusRequest): Promise<ContainerStatusResponse> => {
  const row = m.get(req.containerId);
  const info: Record<string, string> = {};
  if (req.verbose) {
    let runtimeSpec: unknown = null;
    try {
      runtimeSpec = JSON.parse(readFileSync(join(row.bundle, 'config.json'), 'utf8'));
    } catch {
      runtimeSpec = null;
    }
    info.info = JSON.stringify({ sandboxID: row.sandboxId, pid: row.pid, runtimeType: row.handler, runtimeSpec, bundle: row.bundle });
  }
  return { status: toStatus(row, imageRefOf(m.deps.images, row)), info };
};
