// ListMetricDescriptors and ListPodSandboxMetrics: cAdvisor-named metrics of every READY pod
// and its running containers, from the same samples as the stats calls.

import type {
  ListMetricDescriptorsRequest, ListMetricDescriptorsResponse, ListPodSandboxMetricsRequest, ListPodSandboxMetricsResponse, PodSandboxMetrics,
} from '../gen/api';
import { nowNs } from '../util/clock';
import { imageRefOf, isRunning } from '../container/views';
import type { ImageLookup } from '../image/api';
import { samplerFor } from '../stats';
import { blockDeviceName } from '../stats/block_devices';
import { containerMetrics, metricDescriptors, podMetrics } from '../stats/cadvisor';
import { statsOf } from './container_stats';
import type { UnaryHandler } from './context';
import { containersBySandbox, podIdentity, type PodStatsDeps } from './pod_sandbox_stats';

export function listMetricDescriptors(): UnaryHandler<ListMetricDescriptorsRequest, ListMetricDescriptorsResponse> {
  const descriptors = metricDescriptors();
  return async () => ({ descriptors });
}

export async function allPodMetrics(d: PodStatsDeps & { images: ImageLookup }): Promise<PodSandboxMetrics[]> {
  const sampler = samplerFor(d.containers);
  const byPod = containersBySandbox(d.containers);
  const ready = d.sandboxes.list().filter((e) => e.row.state === 'READY');
  return Promise.all(
    ready.map(async (e) => {
      const ts = nowNs();
      const rows = (byPod.get(e.rec.id) ?? []).filter(isRunning);
      const stats = await Promise.all(rows.map((r) => statsOf(d.containers, r)));
      const id = podIdentity(e, rows);
      const ifs = id.netns ? sampler.interfaces(id.netns, id.pids) : undefined;
      const pod = sampler.pod(id, [], ts, ifs);
      const cms = rows.map((r, i) =>
        containerMetrics(stats[i]!, {
          image: imageRefOf(d.images, r),
          startedAt: r.startedAt,
          oomKills: r.cgroupPath ? d.containers.cgroups.oomKills(r.cgroupPath) : 0,
          io: r.cgroupPath ? d.containers.cgroups.io(r.cgroupPath).map((x) => ({ ...x, device: blockDeviceName(x.majorMinor) })) : [],
        }, ts),
      );
      return podMetrics(pod, ifs, cms, ts);
    }),
  );
}

export function listPodSandboxMetrics(d: PodStatsDeps & { images: ImageLookup }): UnaryHandler<ListPodSandboxMetricsRequest, ListPodSandboxMetricsResponse> {
  return async () => ({ podMetrics: await allPodMetrics(d) });
}
