// Stats, metrics, events and the streamed lists: the RPCs that observe pods and containers
// (plus the two that act on a running pod: UpdatePodSandboxResources, CheckpointContainer).
// Built after the image, sandbox and container subsystems, whose stores it reads.

import { nowNs } from '../util/clock';
import type { ContainerManager } from '../container/manager';
import { imageRefOf, toStatus as containerStatusOf } from '../container/views';
import { UnavailableError } from '../errors';
import { ContainerEvents } from '../events/container_events';
import {
  Container, ContainerStats, Image, PodSandbox, PodSandboxMetrics, PodSandboxStats,
} from '../gen/api';
import type { ImageService } from '../image/service';
import type { SandboxService } from '../sandbox/service';
import { toStatus as sandboxStatusOf } from '../sandbox/status';
import { registerRuntimeMetrics } from '../stats/prometheus';
import type { Subsystem, SubsystemContext } from '../subsystem';
import { checkpointContainer } from './checkpoint_container';
import { getContainerEvents } from './get_container_events';
import { listContainerStats } from './list_container_stats';
import { listContainers } from './list_containers';
import { listImages } from './list_images';
import { listPodSandbox } from './list_pod_sandbox';
import { streamList } from './list_streams';
import { allPodMetrics, listMetricDescriptors, listPodSandboxMetrics } from './pod_sandbox_metrics';
import { listPodSandboxStats, podSandboxStats } from './pod_sandbox_stats';
import { updatePodSandboxResources } from './update_pod_sandbox_resources';

export interface ObserveDeps {
  sandboxes: SandboxService;
  containers: ContainerManager;
  images: ImageService;
}

export function observeSubsystem(ctx: SubsystemContext, d: ObserveDeps): Subsystem & { events: ContainerEvents } {
  const events = new ContainerEvents({
    sandboxStatus: (id) => {
      const e = d.sandboxes.entry(id);
      return e ? sandboxStatusOf(e) : undefined;
    },
    containerStatuses: (id) => d.containers.containersOf(id).map((r) => containerStatusOf(r, imageRefOf(d.images, r))),
    now: nowNs,
  });
  d.containers.listeners.push((t, row) => events.publish(t, row));
  // Pods have no container of their own in nori; like containerd, a pod's lifecycle is reported
  // as events whose container id is the sandbox id.
  d.sandboxes.listeners.push((t, id) => {
    const pod = { id, sandboxId: id };
    if (t === 'READY') (events.publish('CREATED', pod), events.publish('STARTED', pod));
    else events.publish(t === 'NOTREADY' ? 'STOPPED' : 'DELETED', pod);
  });
  registerRuntimeMetrics(ctx.metrics, {
    containers: d.containers,
    sandboxStates: () => d.sandboxes.list().map((e) => e.row.state),
    network: d.sandboxes.network,
  });
  const podDeps = { sandboxes: d.sandboxes, containers: d.containers, images: d.images };
  return {
    name: 'observe',
    events,
    drain: () => events.bus.closeAll(new UnavailableError('nori is shutting down; subscribe again when it is back')),
    handlers: {
      PodSandboxStats: podSandboxStats(podDeps),
      ListPodSandboxStats: listPodSandboxStats(podDeps),
      ListMetricDescriptors: listMetricDescriptors(),
      ListPodSandboxMetrics: listPodSandboxMetrics(podDeps),
      GetContainerEvents: getContainerEvents(events),
      UpdatePodSandboxResources: updatePodSandboxResources(d.sandboxes),
      CheckpointContainer: checkpointContainer(d.containers),
      StreamPodSandboxes: streamList(listPodSandbox(d.sandboxes), (r) => r.items, PodSandbox, (podSandboxes) => ({ podSandboxes })),
      StreamContainers: streamList(listContainers(d.containers), (r) => r.containers, Container, (containers) => ({ containers })),
      StreamContainerStats: streamList(listContainerStats(d.containers), (r) => r.stats, ContainerStats, (containerStats) => ({ containerStats })),
      StreamPodSandboxStats: streamList(listPodSandboxStats(podDeps), (r) => r.stats, PodSandboxStats, (podSandboxStats) => ({ podSandboxStats })),
      StreamPodSandboxMetrics: streamList(async () => allPodMetrics(podDeps), (r) => r, PodSandboxMetrics, (podSandboxMetrics) => ({ podSandboxMetrics })),
      StreamImages: streamList(listImages(d.images), (r) => r.images, Image, (images) => ({ images })),
    },
  };
}
