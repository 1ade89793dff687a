// ExecSync: a command in a running container, output captured (16 MiB per stream).

import type { ExecSyncRequest, ExecSyncResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { execSync as runExecSync } from '../container/exec_sync';
import { FailedPreconditionError } from '../errors';
import { isRunning } from '../container/views';
import { validateCmd } from './validate_cmd';

export const execSync = (m: ContainerManager) => async (req: ExecSyncRequest): Promise<ExecSyncResponse> => {
  const row = m.get(req.containerId);
  if (!isRunning(row)) throw new FailedPreconditionError(`container ${row.id} is not running`);
  validateCmd(req.cmd);
  return runExecSync(m.runtimeFor(row.handler), row.id, row.bundle, req.cmd, Number(req.timeout), { initPid: row.pid, log: m.deps.log });
};
