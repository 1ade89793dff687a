// nori's runtime metrics beside the per-RPC ones: containers and sandboxes by state (counted
// from the stores at scrape time, so they never drift), exits by reason, OOM kills, and CNI
// ADD/DEL latency and errors.

import { Gauge } from 'prom-client';
import type { ContainerManager } from '../container/manager';
import { ContainerState } from '../gen/api';
import type { Metrics } from '../metrics';
import type { NetworkObserver } from '../network/pod-network';
import { stateOf } from '../store/container_store';

const CONTAINER_STATES: Record<ContainerState, string> = {
  [ContainerState.CONTAINER_CREATED]: 'created',
  [ContainerState.CONTAINER_RUNNING]: 'running',
  [ContainerState.CONTAINER_EXITED]: 'exited',
  [ContainerState.CONTAINER_UNKNOWN]: 'unknown',
  [ContainerState.UNRECOGNIZED]: 'unknown',
};

export interface RuntimeMetricSources {
  containers: ContainerManager;
  /** Current sandbox states ('READY' | 'NOTREADY'). */
  sandboxStates(): Iterable<string>;
  /** Told of each pod network ADD/DEL (CNI or built-in). */
  network: { observer: NetworkObserver | undefined };
}

export function registerRuntimeMetrics(metrics: Metrics, src: RuntimeMetricSources): void {
  new Gauge({
    name: 'nori_containers',
    help: 'Containers by state (created, running, exited, unknown)',
    labelNames: ['state'],
    registers: [metrics.registry],
    collect() {
      const n: Record<string, number> = { created: 0, running: 0, exited: 0, unknown: 0 };
      for (const r of src.containers.store.list()) n[CONTAINER_STATES[stateOf(r)]]! += 1;
      for (const [state, v] of Object.entries(n)) this.set({ state }, v);
    },
  });
  new Gauge({
    name: 'nori_pod_sandboxes',
    help: 'Pod sandboxes by state (ready, notready)',
    labelNames: ['state'],
    registers: [metrics.registry],
    collect() {
      const n: Record<string, number> = { ready: 0, notready: 0 };
      for (const s of src.sandboxStates()) n[s === 'READY' ? 'ready' : 'notready']! += 1;
      for (const [state, v] of Object.entries(n)) this.set({ state }, v);
    },
  });
  const exits = metrics.counter('nori_container_exits_total', 'Container exits recorded, by reason (Completed, Error, OOMKilled, StartError)', ['reason']);
  const ooms = metrics.counter('nori_container_oom_kills_total', 'Containers whose exit was an OOM kill');
  src.containers.listeners.push((t, row) => {
    if (t !== 'STOPPED') return;
    exits.inc({ reason: row.reason || 'Unknown' });
    if (row.reason === 'OOMKilled') ooms.inc();
  });
  const cniSeconds = metrics.histogram('nori_cni_operation_duration_seconds', 'CNI ADD/DEL duration (the whole plugin chain), by operation', ['operation'], [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120]);
  const cniErrors = metrics.counter('nori_cni_operation_errors_total', 'CNI ADD/DEL calls that failed, by operation', ['operation']);
  src.network.observer = (op, seconds, err) => {
    cniSeconds.observe({ operation: op }, seconds);
    if (err !== undefined) cniErrors.inc({ operation: op });
  };
}
