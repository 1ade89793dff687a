// ContainerStatus, with `verbose` info (pid, OCI spec) under the "info" key as containerd does,
// plus the kernel's view of the container (src/inspect/) under info.kernel.
// `user`: while the container runs, the identity its init process has (read from the kernel);
// otherwise the one its spec gave, as containerd reports in every state.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerState, type ContainerStatusRequest, type ContainerStatusResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { readProcUser } from '../container/proc_user';
import { imageRefOf, toStatus } from '../container/views';
import { containerKernelInfo } from '../inspect/verbose';
import { stateOf } from '../store/container_store';

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
    const running = stateOf(row) === ContainerState.CONTAINER_RUNNING;
    const kernel = containerKernelInfo(row, running, m.deps.sandboxes.get(row.sandboxId), m.deps.config);
    info.info = JSON.stringify({ sandboxID: row.sandboxId, pid: row.pid, runtimeType: row.handler, runtimeSpec, bundle: row.bundle, kernel });
  }
  const status = toStatus(row, imageRefOf(m.deps.images, row));
  if (status.state === ContainerState.CONTAINER_RUNNING) {
    const pid = await m.livePid(row);
    const u = pid ? readProcUser(pid) : undefined;
    // Read, then checked again: a pid that died meanwhile may name another process now.
    if (u && (await m.livePid(row)) === pid) {
      status.user = { linux: { uid: BigInt(u.uid), gid: BigInt(u.gid), supplementalGroups: u.groups.map((g) => BigInt(g)) } };
    }
  }
  return { status, info };
};
