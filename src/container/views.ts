// CRI views of container rows: Container (list), ContainerStatus, ContainerStats, and filters.

import {
  Container, ContainerFilter, ContainerResources, ContainerState, ContainerStats, ContainerStatsFilter, ContainerStatus,
  LinuxContainerResources, Signal, signalFromJSON,
} from '../gen/api';
import type { ImageLookup } from '../image/api';
import { stateOf, type ContainerRow } from '../store/container_store';
import type { CgroupSample } from './cgroup_stats';

export function imageRefOf(images: ImageLookup, row: ContainerRow): string {
  const img = images.resolve(row.imageId);
  return img?.repoDigests[0] ?? row.imageId;
}

/**
 * Rows are immutable: the store replaces a row object on every change. So the views built from
 * one (what the polled reads return) are kept per row object and built again only for a new row
 * or when the image's reference changed (the image was re-pulled or removed).
 */
const containerViews = new WeakMap<ContainerRow, { imageRef: string; view: Container }>();
const statusViews = new WeakMap<ContainerRow, { imageRef: string; view: ContainerStatus }>();

export function toContainer(row: ContainerRow, imageRef: string): Container {
  const have = containerViews.get(row);
  if (have?.imageRef === imageRef) return have.view;
  const view = buildContainer(row, imageRef);
  containerViews.set(row, { imageRef, view });
  return view;
}

export function toStatus(row: ContainerRow, imageRef: string): ContainerStatus {
  const have = statusViews.get(row);
  if (have?.imageRef === imageRef) return have.view;
  const view = buildStatus(row, imageRef);
  statusViews.set(row, { imageRef, view });
  return view;
}

function buildContainer(row: ContainerRow, imageRef: string): Container {
  return Container.fromPartial({
    id: row.id,
    podSandboxId: row.sandboxId,
    metadata: row.config.metadata,
    image: { ...row.config.image, image: row.imageRef },
    imageRef,
    imageId: row.imageId,
    state: stateOf(row),
    createdAt: row.createdAt,
    labels: row.config.labels,
    annotations: row.config.annotations,
  });
}

function buildStatus(row: ContainerRow, imageRef: string): ContainerStatus {
  const user = row.userJson ? (JSON.parse(row.userJson) as { uid: number; gid: number; additionalGids?: number[] }) : undefined;
  const resources = row.resources ? LinuxContainerResources.fromJSON(JSON.parse(row.resources)) : undefined;
  return ContainerStatus.fromPartial({
    id: row.id,
    metadata: row.config.metadata,
    state: stateOf(row),
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    exitCode: row.exitCode,
    image: { ...row.config.image, image: row.imageRef },
    imageRef,
    imageId: row.imageId,
    reason: row.reason,
    message: row.message,
    labels: row.config.labels,
    annotations: row.config.annotations,
    mounts: row.config.mounts,
    logPath: row.logPath,
    resources: resources ? ContainerResources.fromPartial({ linux: resources }) : undefined,
    user: user
      ? { linux: { uid: BigInt(user.uid), gid: BigInt(user.gid), supplementalGroups: (user.additionalGids ?? []).map((g) => BigInt(g)) } }
      : undefined,
    stopSignal: row.stopSignal ? signalOf(row.stopSignal) : Signal.RUNTIME_DEFAULT,
  });
}

function signalOf(name: string): Signal {
  const s = signalFromJSON(name.startsWith('SIG') ? name : `SIG${name}`);
  return s === Signal.UNRECOGNIZED ? Signal.RUNTIME_DEFAULT : s;
}

function labelsMatch(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function matchesFilter(row: ContainerRow, f: ContainerFilter | ContainerStatsFilter | undefined): boolean {
  if (!f) return true;
  if (f.id && !row.id.startsWith(f.id)) return false;
  if (f.podSandboxId && !row.sandboxId.startsWith(f.podSandboxId)) return false;
  if ('state' in f && f.state && stateOf(row) !== f.state.state) return false;
  return labelsMatch(row.config.labels, f.labelSelector ?? {});
}

export function toStats(
  row: ContainerRow,
  sample: CgroupSample,
  layer: { bytes: number; inodes: number; atNs?: bigint } | undefined,
  mountpoint: string,
  timestamp: bigint,
): ContainerStats {
  const u = (v: bigint | undefined) => (v === undefined ? undefined : { value: v });
  return ContainerStats.fromPartial({
    attributes: { id: row.id, metadata: row.config.metadata, labels: row.config.labels, annotations: row.config.annotations },
    cpu: { timestamp, usageCoreNanoSeconds: u(sample.cpuUsageNs) },
    memory: {
      timestamp,
      workingSetBytes: u(sample.workingSet),
      usageBytes: u(sample.memoryUsage),
      rssBytes: u(sample.rss),
      pageFaults: u(sample.pageFaults),
      majorPageFaults: u(sample.majorPageFaults),
    },
    writableLayer: layer
      ? { timestamp: layer.atNs ?? timestamp, fsId: { mountpoint }, usedBytes: { value: BigInt(layer.bytes) }, inodesUsed: { value: BigInt(layer.inodes) } }
      : undefined,
  });
}

export const isRunning = (row: ContainerRow) => stateOf(row) === ContainerState.CONTAINER_RUNNING;
