// ListMetricDescriptors / ListPodSandboxMetrics: the cAdvisor-named metrics kubelet scrapes
// through the CRI (PodAndContainerStatsFromCRI) instead of running cAdvisor itself. Names, help
// texts and label keys follow cAdvisor (as CRI-O and containerd expose them): `id`, `name`,
// `image`, and `interface` for network metrics. Values are UInt64, so seconds are whole.

import { ContainerMetrics, Metric, MetricDescriptor, MetricType, PodSandboxMetrics, type ContainerStats, type PodSandboxStats } from '../gen/api';

const BASE = ['id', 'name', 'image'];
const NET = [...BASE, 'interface'];

interface Def {
  name: string;
  help: string;
  labels: string[];
  type: MetricType;
}

const d = (name: string, help: string, type: MetricType, labels = BASE): Def => ({ name, help, labels, type });
const { COUNTER, GAUGE } = MetricType;

export const CONTAINER_METRICS = {
  cpuUsage: d('container_cpu_usage_seconds_total', 'Cumulative cpu time consumed in seconds.', COUNTER),
  memUsage: d('container_memory_usage_bytes', 'Current memory usage in bytes, including all memory regardless of when it was accessed', GAUGE),
  memWorkingSet: d('container_memory_working_set_bytes', 'Current working set in bytes.', GAUGE),
  memRss: d('container_memory_rss', 'Size of RSS in bytes.', GAUGE),
  memSwap: d('container_memory_swap', 'Container swap usage in bytes.', GAUGE),
  memFailures: d('container_memory_failures_total', 'Cumulative count of memory allocation failures.', COUNTER, [...BASE, 'failure_type', 'scope']),
  fsUsage: d('container_fs_usage_bytes', 'Number of bytes that are consumed by the container on this filesystem.', GAUGE, [...BASE, 'device']),
  fsInodes: d('container_fs_inodes_total', 'Number of Inodes', GAUGE, [...BASE, 'device']),
  fsReadBytes: d('container_fs_reads_bytes_total', 'Cumulative count of bytes read', COUNTER, [...BASE, 'device']),
  fsWriteBytes: d('container_fs_writes_bytes_total', 'Cumulative count of bytes written', COUNTER, [...BASE, 'device']),
  fsReads: d('container_fs_reads_total', 'Cumulative count of reads completed', COUNTER, [...BASE, 'device']),
  fsWrites: d('container_fs_writes_total', 'Cumulative count of writes completed', COUNTER, [...BASE, 'device']),
  lastSeen: d('container_last_seen', 'Last time a container was seen by the exporter', GAUGE),
  oomEvents: d('container_oom_events_total', 'Count of out of memory events observed for the container', COUNTER),
  startTime: d('container_start_time_seconds', 'Start time of the container since unix epoch in seconds.', GAUGE),
};

export const POD_METRICS = {
  rxBytes: d('container_network_receive_bytes_total', 'Cumulative count of bytes received', COUNTER, NET),
  rxPackets: d('container_network_receive_packets_total', 'Cumulative count of packets received', COUNTER, NET),
  rxDropped: d('container_network_receive_packets_dropped_total', 'Cumulative count of packets dropped while receiving', COUNTER, NET),
  rxErrors: d('container_network_receive_errors_total', 'Cumulative count of errors encountered while receiving', COUNTER, NET),
  txBytes: d('container_network_transmit_bytes_total', 'Cumulative count of bytes transmitted', COUNTER, NET),
  txPackets: d('container_network_transmit_packets_total', 'Cumulative count of packets transmitted', COUNTER, NET),
  txDropped: d('container_network_transmit_packets_dropped_total', 'Cumulative count of packets dropped while transmitting', COUNTER, NET),
  txErrors: d('container_network_transmit_errors_total', 'Cumulative count of errors encountered while transmitting', COUNTER, NET),
  processes: d('container_processes', 'Number of processes running inside the container.', GAUGE),
};

export function metricDescriptors(): MetricDescriptor[] {
  return [...Object.values(CONTAINER_METRICS), ...Object.values(POD_METRICS)].map((m) =>
    MetricDescriptor.fromPartial({ name: m.name, help: m.help, labelKeys: m.labels }),
  );
}

/** Per-container facts the stats message does not carry. */
export interface ContainerFacts {
  image: string;
  /** Nanoseconds since the epoch; 0 if never started. */
  startedAt: bigint;
  oomKills: number;
  /** Block I/O by device (cgroup io.stat / blkio), the device named as cAdvisor does (/dev/…). */
  io?: Array<{ device: string; readBytes: bigint; writeBytes: bigint; reads: bigint; writes: bigint }>;
  /** Major/minor faults are cAdvisor's memory failures ("pgfault"/"pgmajfault"). */
}

/** Network counters of the pod, by interface (from the netns, not in PodSandboxStats). */
export interface PodNet {
  name: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxDropped: bigint;
  rxErrors: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txDropped: bigint;
  txErrors: bigint;
}

function metric(def: Def, ts: bigint, labelValues: string[], value: bigint | undefined): Metric[] {
  if (value === undefined) return [];
  return [Metric.fromPartial({ name: def.name, timestamp: ts, metricType: def.type, labelValues, value: { value } })];
}

export function containerMetrics(s: ContainerStats, facts: ContainerFacts, ts: bigint): ContainerMetrics {
  const id = s.attributes?.id ?? '';
  const base = [id, s.attributes?.metadata?.name ?? '', facts.image];
  const m = CONTAINER_METRICS;
  const cpu = s.cpu?.usageCoreNanoSeconds?.value;
  const mem = s.memory;
  const mountpoint = s.writableLayer?.fsId?.mountpoint ?? '';
  return ContainerMetrics.fromPartial({
    containerId: id,
    metrics: [
      ...metric(m.cpuUsage, ts, base, cpu === undefined ? undefined : cpu / 1_000_000_000n),
      ...metric(m.memUsage, ts, base, mem?.usageBytes?.value),
      ...metric(m.memWorkingSet, ts, base, mem?.workingSetBytes?.value),
      ...metric(m.memRss, ts, base, mem?.rssBytes?.value),
      ...metric(m.memSwap, ts, base, s.swap?.swapUsageBytes?.value),
      ...metric(m.memFailures, ts, [...base, 'pgfault', 'container'], mem?.pageFaults?.value),
      ...metric(m.memFailures, ts, [...base, 'pgmajfault', 'container'], mem?.majorPageFaults?.value),
      ...metric(m.fsUsage, ts, [...base, mountpoint], s.writableLayer?.usedBytes?.value),
      ...metric(m.fsInodes, ts, [...base, mountpoint], s.writableLayer?.inodesUsed?.value),
      ...(facts.io ?? []).flatMap((io) => [
        ...metric(m.fsReadBytes, ts, [...base, io.device], io.readBytes),
        ...metric(m.fsWriteBytes, ts, [...base, io.device], io.writeBytes),
        ...metric(m.fsReads, ts, [...base, io.device], io.reads),
        ...metric(m.fsWrites, ts, [...base, io.device], io.writes),
      ]),
      ...metric(m.lastSeen, ts, base, ts / 1_000_000_000n),
      ...metric(m.oomEvents, ts, base, BigInt(facts.oomKills)),
      ...metric(m.startTime, ts, base, facts.startedAt > 0n ? facts.startedAt / 1_000_000_000n : undefined),
    ],
  });
}

/** Pod-level metrics: network per interface and the task count, labelled with the pod's id and name. */
export function podMetrics(stats: PodSandboxStats, net: PodNet[] | undefined, containers: ContainerMetrics[], ts: bigint): PodSandboxMetrics {
  const id = stats.attributes?.id ?? '';
  const base = [id, stats.attributes?.metadata?.name ?? '', ''];
  const m = POD_METRICS;
  const metrics: Metric[] = [];
  for (const i of net ?? []) {
    const l = [...base, i.name];
    metrics.push(
      ...metric(m.rxBytes, ts, l, i.rxBytes), ...metric(m.rxPackets, ts, l, i.rxPackets), ...metric(m.rxDropped, ts, l, i.rxDropped), ...metric(m.rxErrors, ts, l, i.rxErrors),
      ...metric(m.txBytes, ts, l, i.txBytes), ...metric(m.txPackets, ts, l, i.txPackets), ...metric(m.txDropped, ts, l, i.txDropped), ...metric(m.txErrors, ts, l, i.txErrors),
    );
  }
  metrics.push(...metric(m.processes, ts, base, stats.linux?.process?.processCount?.value));
  return PodSandboxMetrics.fromPartial({ podSandboxId: id, metrics, containerMetrics: containers });
}
