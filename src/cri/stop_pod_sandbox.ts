import type { StopPodSandboxRequest, StopPodSandboxResponse } from '../gen/api';
import type { SandboxService } from '../sandbox/service';
import type { UnaryHandler } from './context';

/** A missing sandbox is success: kubelet stops again after restarts and removals. */
export function stopPodSandbox(s: SandboxService): UnaryHandler<StopPodSandboxRequest, StopPodSandboxResponse> {
  return async (req, ctx) => {
    await s.stop(req.podSandboxId, ctx.signal);
    return {};
  };
}
