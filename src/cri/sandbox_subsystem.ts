// The pod sandbox RPCs and the lookup containers use.

import { PodSandbox } from '../gen/api';
import { SandboxService, type SandboxServiceDeps } from '../sandbox/service';
import type { SandboxLookup } from '../sandbox/api';
import type { Subsystem, SubsystemContext } from '../subsystem';
import { listPodSandbox } from './list_pod_sandbox';
import { podSandboxStatus } from './pod_sandbox_status';
import { removePodSandbox } from './remove_pod_sandbox';
import { runPodSandbox } from './run_pod_sandbox';
import { stopPodSandbox } from './stop_pod_sandbox';
import { guardIds } from './validate_ids';
import { preEncodedList } from './pre_encoded';

export interface SandboxSubsystem extends Subsystem {
  lookup: SandboxLookup;
  service: SandboxService;
}

export function sandboxSubsystem(ctx: SubsystemContext, extra: Partial<SandboxServiceDeps> = {}): SandboxSubsystem {
  const service = new SandboxService({ config: ctx.config, db: ctx.db, log: ctx.log, sys: ctx.sys, ...extra });
  return {
    name: 'sandboxes',
    lookup: service,
    service,
    handlers: guardIds(
      {
        RunPodSandbox: runPodSandbox(service),
        StopPodSandbox: stopPodSandbox(service),
        RemovePodSandbox: removePodSandbox(service),
        PodSandboxStatus: podSandboxStatus(service),
        ListPodSandbox: preEncodedList(listPodSandbox(service), (r) => r.items, 1, PodSandbox),
      },
      ['StopPodSandbox', 'RemovePodSandbox', 'PodSandboxStatus'],
      'podSandboxId',
      'pod sandbox',
      () => service.ids(),
    ),
    recover: () => service.recover(),
  };
}
