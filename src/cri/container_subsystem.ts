// The containers subsystem: builds the manager over the image and sandbox lookups, registers
// the container RPCs and gives the sandbox subsystem its pod-container hooks.

import { Container } from '../gen/api';
import type { ImageLookup } from '../image/api';
import type { SandboxLookup } from '../sandbox/api';
import type { Subsystem, SubsystemContext } from '../subsystem';
import { ContainerManager } from '../container/manager';
import { staticNodeDefaults, withMountInfo } from '../container/node_defaults';
import { buildSpec } from '../container/spec_source';
import { errorMessage } from '../errors';
import { containerStats } from './container_stats';
import { containerStatus } from './container_status';
import { createContainer } from './create_container';
import { execSync } from './exec_sync';
import { listContainerStats } from './list_container_stats';
import { listContainers } from './list_containers';
import { removeContainer } from './remove_container';
import { reopenContainerLog } from './reopen_container_log';
import { startContainer } from './start_container';
import { stopContainer } from './stop_container';
import { updateContainerResources } from './update_container_resources';
import { guardIds } from './validate_ids';
import { preEncodedList } from './pre_encoded';

export function containerSubsystem(ctx: SubsystemContext, deps: { images: ImageLookup; sandboxes: SandboxLookup }): Subsystem & { manager: ContainerManager } {
  let fixed: ReturnType<typeof staticNodeDefaults> | undefined;
  const m = new ContainerManager({
    config: ctx.config,
    db: ctx.db,
    log: ctx.log.child({ subsystem: 'containers' }),
    sys: ctx.sys,
    images: deps.images,
    sandboxes: deps.sandboxes,
    buildSpec,
    nodeDefaults: (need) => {
      fixed ??= staticNodeDefaults(ctx.config);
      return need?.mountInfo === false ? fixed : withMountInfo(fixed);
    },
  });
  deps.sandboxes.setContainerHooks({
    async stopPodContainers(sandboxId) {
      await Promise.all(m.containersOf(sandboxId).map((r) => m.stop(r.id, 0)));
    },
    async removePodContainers(sandboxId) {
      for (const r of m.containersOf(sandboxId)) {
        await m.remove(r.id).catch((e) => {
          ctx.log.warn({ container: r.id, err: errorMessage(e) }, 'removing pod container failed');
          throw e;
        });
      }
      // the pod is gone only with everything of its containers
      await m.filesRemoved();
    },
  });
  return {
    name: 'containers',
    manager: m,
    handlers: guardContainerIds(m, deps.sandboxes, {
      CreateContainer: createContainer(m),
      StartContainer: startContainer(m),
      StopContainer: stopContainer(m),
      RemoveContainer: removeContainer(m),
      ContainerStatus: containerStatus(m),
      ListContainers: preEncodedList(listContainers(m), (r) => r.containers, 1, Container),
      UpdateContainerResources: updateContainerResources(m),
      ReopenContainerLog: reopenContainerLog(m),
      ExecSync: execSync(m),
      ContainerStats: containerStats(m),
      ListContainerStats: listContainerStats(m),
    }),
    recover: () => m.recover(),
    close: async () => m.close(),
  };
}

/** Every RPC naming one container; CreateContainer names its pod. */
export const CONTAINER_ID_RPCS = [
  'StartContainer', 'StopContainer', 'RemoveContainer', 'ContainerStatus', 'UpdateContainerResources',
  'ReopenContainerLog', 'ExecSync', 'ContainerStats',
];

function guardContainerIds(m: ContainerManager, sandboxes: SandboxLookup, table: Subsystem['handlers']): Subsystem['handlers'] {
  const ids = () => m.store.ids();
  const withContainers = guardIds(table, CONTAINER_ID_RPCS, 'containerId', 'container', ids);
  return guardIds(withContainers, ['CreateContainer'], 'podSandboxId', 'pod sandbox', sandboxes.ids ? () => sandboxes.ids!() : undefined);
}
