import type { RunPodSandboxRequest, RunPodSandboxResponse } from '../gen/api';
import type { SandboxService } from '../sandbox/service';
import type { UnaryHandler } from './context';

export function runPodSandbox(s: SandboxService): UnaryHandler<RunPodSandboxRequest, RunPodSandboxResponse> {
  return async (req, ctx) => ({ podSandboxId: await s.run(req, ctx.log) });
}
