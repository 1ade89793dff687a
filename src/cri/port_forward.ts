// PortForward: the pod must exist and be ready; the ports are checked when the client opens streams.

import type { PortForwardRequest, PortForwardResponse } from '../gen/api';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors';
import type { SandboxLookup } from '../sandbox/api';
import type { StreamingServer } from '../streaming';

export const portForward = (sandboxes: SandboxLookup, server: StreamingServer) => async (req: PortForwardRequest): Promise<PortForwardResponse> => {
  const sb = sandboxes.get(req.podSandboxId);
  if (!sb) throw new NotFoundError(`pod sandbox "${req.podSandboxId}" not found`);
  if (sb.state !== 'READY') throw new FailedPreconditionError(`pod sandbox ${sb.id} is not ready`);
  for (const p of req.port) if (!(p > 0 && p < 65536)) throw new InvalidArgumentError(`invalid port ${p}`);
  return { url: server.getPortForwardUrl({ podSandboxId: sb.id, port: req.port }) };
};
