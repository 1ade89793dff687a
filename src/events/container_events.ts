// Container lifecycle events as GetContainerEvents sends them: the event plus the pod's sandbox
// status and the statuses of all the pod's containers, taken when the transition happened.

import { ContainerEventResponse, ContainerEventType, type ContainerStatus, type PodSandboxStatus } from '../gen/api';
import type { ContainerRow } from '../store/container_store';
import { EventBus } from './bus';

export type Transition = 'CREATED' | 'STARTED' | 'STOPPED' | 'DELETED';

const TYPES: Record<Transition, ContainerEventType> = {
  CREATED: ContainerEventType.CONTAINER_CREATED_EVENT,
  STARTED: ContainerEventType.CONTAINER_STARTED_EVENT,
  STOPPED: ContainerEventType.CONTAINER_STOPPED_EVENT,
  DELETED: ContainerEventType.CONTAINER_DELETED_EVENT,
};

export interface PodStatusSource {
  /** The sandbox's status, or undefined when it is gone. */
  sandboxStatus(sandboxId: string): PodSandboxStatus | undefined;
  /** Statuses of the containers the pod has now (a deleted one is no longer among them). */
  containerStatuses(sandboxId: string): ContainerStatus[];
  /** Event time, nanoseconds since the epoch. */
  now(): bigint;
}

export class ContainerEvents {
  readonly bus: EventBus<ContainerEventResponse>;

  constructor(
    private readonly source: PodStatusSource,
    capacity?: number,
  ) {
    this.bus = new EventBus(capacity);
  }

  /** Called by the container manager on each transition; cheap when nobody subscribed. */
  publish(t: Transition, row: Pick<ContainerRow, 'id' | 'sandboxId'>): void {
    this.bus.publish(() =>
      ContainerEventResponse.fromPartial({
        containerId: row.id,
        containerEventType: TYPES[t],
        createdAt: this.source.now(),
        podSandboxStatus: this.source.sandboxStatus(row.sandboxId),
        containersStatuses: this.source.containerStatuses(row.sandboxId),
      }),
    );
  }
}
