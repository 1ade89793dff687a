// Adds the kernel's view (model.ts) to the verbose "info" JSON document of PodSandboxStatus and
// ContainerStatus, under "kernel", beside what containerd-like clients already read there. The
// facts that do not change are kept here: per pod entry while its state and network stay, per
// container while its init lives (container_status.ts forgets one when it stops or is removed).

import { join } from 'node:path';
import type { Config } from '../config';
import type { SandboxRecord } from '../sandbox/api';
import type { SandboxEntry } from '../sandbox/service';
import { verboseInfo } from '../sandbox/status';
import { ContainerKernelFacts, PodKernelFacts, type ContainerKernelView } from './model';

const podFacts = new WeakMap<SandboxEntry, { key: string; facts: PodKernelFacts }>();

function podFactsOf(e: SandboxEntry): PodKernelFacts {
  const key = `${e.row.state}|${e.row.networkTornDown}`;
  const have = podFacts.get(e);
  if (have?.key === key) return have.facts;
  const pod = e.row.networkTornDown ? { ...e.rec, nsPaths: { ...e.rec.nsPaths, net: undefined }, network: 'NODE' as const } : e.rec;
  const facts = new PodKernelFacts(pod, e.rec.internals.podInitPid);
  podFacts.set(e, { key, facts });
  return facts;
}

/** Appends `"kernel": view` to a JSON object's text (the base document is kept as text, never parsed again). */
export function withKernel(baseJson: string, kernel: unknown): string {
  const body = baseJson.trimEnd().slice(0, -1);
  return `${body}${body.trimEnd().endsWith('{') ? '' : ','}"kernel":${JSON.stringify(kernel)}}`;
}

export async function podVerboseInfo(e: SandboxEntry): Promise<Record<string, string>> {
  const kernel = await podFactsOf(e).view();
  return { info: withKernel(verboseInfo(e).info!, kernel) };
}

const containerFacts = new Map<string, ContainerKernelFacts>();

export function containerKernelInfo(
  row: { id: string; pid: number; cgroupPath: string; bundle: string },
  running: boolean,
  pod: SandboxRecord | undefined,
  config: Pick<Config, 'root'>,
): ContainerKernelView {
  let facts = containerFacts.get(row.id);
  const pid = running && row.pid > 0 ? row.pid : 0;
  if (!facts || facts.pid !== pid) {
    facts = new ContainerKernelFacts({ ...row, running }, pod, join(config.root, 'overlay2'));
    containerFacts.set(row.id, facts);
  }
  return facts.view();
}

/** The container stopped or is gone: what was read of it no longer holds. */
export function forgetContainer(id: string): void {
  containerFacts.delete(id);
}
