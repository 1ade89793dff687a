// CRI request shapes the scenarios send (proto-loader style: snake_case fields, enums as strings),
// the same for both runtimes, and small timing helpers.

import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Msg } from '../test/helpers/cri-client';
import type { BenchRuntime } from './runtimes/types';

export const UNIMPLEMENTED = 12;

export class NotImplemented extends Error {}

export function isUnimplemented(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: number }).code === UNIMPLEMENTED;
}

let seq = 0;

/** Every pod and container ID the bench created, to look for leftovers after teardown. */
export const createdIds = new Set<string>();

export function podConfig(rt: BenchRuntime, prefix: string): Msg {
  const name = `${prefix}-${process.pid}-${++seq}`;
  return {
    metadata: { name, uid: randomUUID(), namespace: 'nori-bench', attempt: 0 },
    hostname: name.slice(0, 63),
    log_directory: join(rt.logRoot, name),
    labels: { 'nori-bench': 'true' },
    annotations: {},
    linux: {},
  };
}

export function containerConfig(image: string, name = 'c'): Msg {
  return {
    metadata: { name, attempt: 0 },
    image: { image },
    command: ['sleep', '36000'],
    log_path: `${name}.log`,
    labels: { 'nori-bench': 'true' },
    annotations: {},
    linux: {},
  };
}

/** Milliseconds `fn` took. */
export async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return [Number(process.hrtime.bigint() - t0) / 1e6, r];
}

export async function runPod(rt: BenchRuntime, prefix: string): Promise<{ id: string; config: Msg }> {
  const config = podConfig(rt, prefix);
  const res = await rt.client.call('RunPodSandbox', { config });
  createdIds.add(res.pod_sandbox_id as string);
  return { id: res.pod_sandbox_id as string, config };
}

export async function removePod(rt: BenchRuntime, id: string): Promise<void> {
  await rt.client.call('StopPodSandbox', { pod_sandbox_id: id });
  await rt.client.call('RemovePodSandbox', { pod_sandbox_id: id });
}

export async function startContainer(rt: BenchRuntime, pod: { id: string; config: Msg }, image: string, name = 'c'): Promise<string> {
  const c = await rt.client.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(image, name), sandbox_config: pod.config });
  createdIds.add(c.container_id as string);
  await rt.client.call('StartContainer', { container_id: c.container_id });
  return c.container_id as string;
}

/** Stops and removes every pod the runtime lists (each runtime here is private to the bench). */
export async function removeAllPods(rt: BenchRuntime): Promise<number> {
  let pods: Msg[];
  try {
    pods = ((await rt.client.call('ListPodSandbox', {})).items ?? []) as Msg[];
  } catch (e) {
    if (isUnimplemented(e)) return 0;
    throw e;
  }
  await inBatches(pods, 10, (p) => removePod(rt, p.id as string));
  return pods.length;
}

export async function inBatches<T>(items: T[], width: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const x = items[next++]!;
      try {
        await fn(x);
      } catch (e) {
        errors.push(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  if (errors.length) throw errors[0];
}
