import type { RemovePodSandboxRequest, RemovePodSandboxResponse } from '../gen/api';
import type { SandboxService } from '../sandbox/service';
import type { UnaryHandler } from './context';

/** Idempotent; a READY sandbox is stopped first. */
export function removePodSandbox(s: SandboxService): UnaryHandler<RemovePodSandboxRequest, RemovePodSandboxResponse> {
  return async (req, ctx) => {
    await s.remove(req.podSandboxId, ctx.signal);
    return {};
  };
}
