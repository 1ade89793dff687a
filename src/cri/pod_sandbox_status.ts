import { NotFoundError } from '../errors';
import type { PodSandboxStatusRequest, PodSandboxStatusResponse } from '../gen/api';
import type { SandboxService } from '../sandbox/service';
import { forgetPod, podVerboseInfo, warmPodFacts } from '../inspect/verbose';
import { toStatus, verboseInfo } from '../sandbox/status';
import type { UnaryHandler } from './context';

export function podSandboxStatus(s: SandboxService): UnaryHandler<PodSandboxStatusRequest, PodSandboxStatusResponse> {
  // critest and kubelet ask a new pod's verbose status right after RunPodSandbox.
  s.creationWatchers.push(warmPodFacts);
  // Its views are built once the answer to RunPodSandbox is written, while the client turns around.
  s.listeners.push((t, id) => t === 'READY' && setImmediate(() => warmViews(s, id)));
  s.listeners.push((t, id) => t === 'REMOVED' && forgetPod(id));
  return async (req) => {
    const e = s.entry(req.podSandboxId);
    if (!e) throw new NotFoundError(`pod sandbox "${req.podSandboxId}" not found`);
    return {
      status: toStatus(e),
      info: req.verbose ? await podVerboseInfo(e) : {},
      containersStatuses: [],
      timestamp: BigInt(Date.now()) * 1_000_000n,
    };
  };
}

function warmViews(s: SandboxService, id: string): void {
  const e = s.entry(id);
  if (!e) return;
  toStatus(e);
  verboseInfo(e);
}
