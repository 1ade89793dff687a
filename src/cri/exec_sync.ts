// ExecSync: a command in a running container, output captured (16 MiB per stream).

import type { ExecSyncRequest, ExecSyncResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { execSync as runExecSync } from '../container/exec_sync';
import { FailedPreconditionError, InvalidArgumentError } from '../errors';
import { isRunning } from '../container/views';

export const execSync = (m: ContainerManager) => async (req: ExecSyncRequest): Promise<ExecSyncResponse> => {
  const row = m.get(req.containerId);
  if (!isRunning(row)) throw new FailedPreconditionError(`container ${row.id} is not running`);
  if (req.cmd.length === 0) throw new InvalidArgumentError('cmd must not be empty');
  return runExecSync(m.runtimeFor(row.handler), row.id, row.bundle, req.cmd, Number(req.timeout), { initPid: row.pid, log: m.deps.log });
};
