// Exec: checks the container and the request, then hands out a streaming URL.

import type { ExecRequest, ExecResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { isRunning } from '../container/views';
import { FailedPreconditionError } from '../errors';
import { validateCmd } from './validate_cmd';
import { validateStreamRequest, type StreamingServer } from '../streaming';

export const exec = (m: ContainerManager, server: StreamingServer) => async (req: ExecRequest): Promise<ExecResponse> => {
  const row = m.get(req.containerId);
  if (!isRunning(row)) throw new FailedPreconditionError(`container ${row.id} is not running`);
  validateCmd(req.cmd);
  validateStreamRequest(req);
  return { url: server.getExecUrl({ ...req, containerId: row.id }) };
};
