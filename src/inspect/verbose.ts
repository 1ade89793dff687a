// Adds the kernel's view (model.ts) to the verbose "info" JSON document of PodSandboxStatus and
// ContainerStatus, under "kernel", beside what containerd-like clients already read there. The
// facts that do not change are kept here: per pod entry while its state and network stay, per
// container while its init lives (container_status.ts forgets one when it stops or is removed).

import { join } from 'node:path';
import type { Config } from '../config';
import type { SandboxRecord } from '../sandbox/api';
import type { StoredRecord } from '../sandbox/record';
import type { PodCreationStage, SandboxEntry } from '../sandbox/service';
import { verboseInfo } from '../sandbox/status';
import { ContainerKernelFacts, PodKernelFacts } from './model';

/** Kept by record object: a pod's entry keeps its record while it exists, and RunPodSandbox's warm-up has only the record. */
const podFacts = new WeakMap<object, { key: string; facts: PodKernelFacts }>();

/** The same facts by pod id, to close their kept files when the pod is removed. */
const podFactsById = new Map<string, PodKernelFacts>();

const factsKey = (state: string, networkTornDown: boolean) => `${state}|${networkTornDown}`;

function keepPodFacts(rec: StoredRecord, key: string, facts: PodKernelFacts): void {
  podFacts.get(rec)?.facts.close();
  podFacts.set(rec, { key, facts });
  podFactsById.set(rec.id, facts);
}

function podFactsOf(e: SandboxEntry): PodKernelFacts {
  const key = factsKey(e.row.state, e.row.networkTornDown);
  const have = podFacts.get(e.rec);
  if (have?.key === key) return have.facts;
  const pod = e.row.networkTornDown ? { ...e.rec, nsPaths: { ...e.rec.nsPaths, net: undefined }, network: 'NODE' as const } : e.rec;
  const facts = new PodKernelFacts(pod, e.rec.internals.podInitPid);
  keepPodFacts(e.rec, key, facts);
  return facts;
}

/** The pod is gone: its kept cgroup files are closed. */
export function forgetPod(id: string): void {
  podFactsById.get(id)?.close();
  podFactsById.delete(id);
}

/**
 * RunPodSandbox tells where it is while it waits on other threads: the facts of the READY pod
 * it is making are found then, so its first verbose status (critest's benchmark asks it right
 * after) costs what a later one does, and RunPodSandbox nothing.
 *   'network-adding'  namespaces pinned, cgroup made, the network's thread at work: namespaces and cgroup shape
 *   'network-added'   the pod's links and rules are there: their reads start (on threads)
 */
export function warmPodFacts(stage: PodCreationStage, rec: StoredRecord): void {
  let have = podFacts.get(rec);
  if (have?.key !== factsKey('READY', false)) {
    have = { key: factsKey('READY', false), facts: new PodKernelFacts(rec, rec.internals.podInitPid) };
    keepPodFacts(rec, have.key, have.facts);
  }
  if (stage === 'network-adding') have.facts.warmLocal();
  else have.facts.warmNetwork();
}

/** Appends `"kernel": view` (JSON text) to a JSON object's text (the base document is kept as text, never parsed again). */
export function withKernel(baseJson: string, kernelJson: string): string {
  const body = baseJson.trimEnd().slice(0, -1);
  return `${body}${body.trimEnd().endsWith('{') ? '' : ','}"kernel":${kernelJson}}`;
}

export async function podVerboseInfo(e: SandboxEntry): Promise<Record<string, string>> {
  return { info: withKernel(verboseInfo(e).info!, await podFactsOf(e).viewJson()) };
}

const containerFacts = new Map<string, ContainerKernelFacts>();

/** The container's kernel view as JSON text (ContainerKernelFacts.viewJson). */
export function containerKernelJson(
  row: { id: string; pid: number; cgroupPath: string; bundle: string },
  running: boolean,
  /** Asked only when the facts are made anew: a pod record is copied on every lookup. */
  pod: () => SandboxRecord | undefined,
  config: Pick<Config, 'root'>,
): string {
  let facts = containerFacts.get(row.id);
  const pid = running && row.pid > 0 ? row.pid : 0;
  if (!facts || facts.pid !== pid) {
    facts?.close();
    facts = new ContainerKernelFacts({ ...row, running }, pod(), join(config.root, 'overlay2'));
    containerFacts.set(row.id, facts);
  }
  return facts.viewJson();
}

/** StartContainer's warm-up: what stays while the new init lives is found before the call returns. */
export function warmContainerFacts(
  row: { id: string; pid: number; cgroupPath: string; bundle: string },
  pod: SandboxRecord | undefined,
  config: Pick<Config, 'root'>,
): void {
  const facts = new ContainerKernelFacts({ ...row, running: true }, pod, join(config.root, 'overlay2'));
  facts.warm();
  containerFacts.get(row.id)?.close();
  containerFacts.set(row.id, facts);
}

/** The container stopped or is gone: what was read of it no longer holds. */
export function forgetContainer(id: string): void {
  containerFacts.get(id)?.close();
  containerFacts.delete(id);
}
