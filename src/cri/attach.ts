// Attach: checks the container and the request, then hands out a streaming URL.

import type { AttachRequest, AttachResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { isRunning } from '../container/views';
import { FailedPreconditionError } from '../errors';
import { validateStreamRequest, type StreamingServer } from '../streaming';

export const attach = (m: ContainerManager, server: StreamingServer) => async (req: AttachRequest): Promise<AttachResponse> => {
  const row = m.get(req.containerId);
  if (!isRunning(row)) throw new FailedPreconditionError(`container ${row.id} is not running`);
  validateStreamRequest(req);
  return { url: server.getAttachUrl({ ...req, containerId: row.id }) };
};
