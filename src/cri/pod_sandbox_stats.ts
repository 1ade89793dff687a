// PodSandboxStats and ListPodSandboxStats: the pod cgroup's CPU/memory/tasks, the network
// counters inside its netns, and the stats of its running containers.

import { NotFoundError } from '../errors';
import type {
  PodSandboxStats, PodSandboxStatsFilter, PodSandboxStatsRequest, PodSandboxStatsResponse, ListPodSandboxStatsRequest, ListPodSandboxStatsResponse,
} from '../gen/api';
import { nowNs } from '../util/clock';
import type { ContainerManager } from '../container/manager';
import { isRunning } from '../container/views';
import type { SandboxEntry, SandboxService } from '../sandbox/service';
import { filterSandboxes } from '../sandbox/status';
import { samplerFor, type PodIdentity } from '../stats';
import type { ContainerRow } from '../store/container_store';
import { statsOf } from './container_stats';
import type { UnaryHandler } from './context';

export interface PodStatsDeps {
  sandboxes: SandboxService;
  containers: ContainerManager;
}

export function podIdentity(e: SandboxEntry, running: readonly ContainerRow[] = []): PodIdentity {
  const r = e.rec;
  return {
    id: r.id,
    metadata: { name: r.name, uid: r.uid, namespace: r.namespace, attempt: r.attempt },
    labels: r.labels,
    annotations: r.annotations,
    cgroupParent: r.cgroupParent,
    // Host-network pods: the host's interfaces are not the pod's traffic (as containerd).
    netns: r.network === 'NODE' || e.row.state !== 'READY' ? undefined : r.nsPaths.net,
    pids: running.map((c) => c.pid),
  };
}

/** Containers by sandbox id, built once per list call instead of scanning per pod. */
export function containersBySandbox(m: ContainerManager): Map<string, ContainerRow[]> {
  const out = new Map<string, ContainerRow[]>();
  for (const r of m.store.list()) {
    const list = out.get(r.sandboxId);
    if (list) list.push(r);
    else out.set(r.sandboxId, [r]);
  }
  return out;
}

export async function podStatsOf(d: PodStatsDeps, e: SandboxEntry, rows: ContainerRow[]): Promise<PodSandboxStats> {
  const running = rows.filter(isRunning);
  const containers = await Promise.all(running.map((r) => statsOf(d.containers, r)));
  return samplerFor(d.containers).pod(podIdentity(e, running), containers, nowNs());
}

/** Stats of the READY sandboxes matching the filter (id: full or unique prefix; labels ANDed). */
export async function listPodStats(d: PodStatsDeps, f: PodSandboxStatsFilter | undefined): Promise<PodSandboxStats[]> {
  const entries = filterSandboxes(d.sandboxes.list(), f ? { id: f.id, labelSelector: f.labelSelector, state: undefined } : undefined)
    .filter((e) => e.row.state === 'READY');
  const byPod = containersBySandbox(d.containers);
  return Promise.all(entries.map((e) => podStatsOf(d, e, byPod.get(e.rec.id) ?? [])));
}

export function podSandboxStats(d: PodStatsDeps): UnaryHandler<PodSandboxStatsRequest, PodSandboxStatsResponse> {
  return async (req) => {
    const e = d.sandboxes.entry(req.podSandboxId);
    if (!e) throw new NotFoundError(`pod sandbox "${req.podSandboxId}" not found`);
    return { stats: await podStatsOf(d, e, d.containers.containersOf(e.rec.id)) };
  };
}

export function listPodSandboxStats(d: PodStatsDeps): UnaryHandler<ListPodSandboxStatsRequest, ListPodSandboxStatsResponse> {
  return async (req) => ({ stats: await listPodStats(d, req.filter) });
}
