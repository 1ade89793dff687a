import { loadavg } from 'node:os';
// What every scenario gets, and the A-B-A-B sampling loop they share.

import type { Row, Series } from './stats';
import { isUnimplemented } from './cri';
import type { BenchRuntime, RuntimeName } from './runtimes/types';

export interface BenchImage {
  /** host/repo:tag */
  ref: string;
  /** manifest, config and layer digests: what must be gone for a pull to be cold */
  digests: string[];
  /** layer chain IDs (what an overlay store names its layer dirs after) */
  chainIds: string[];
  label: string;
}

export interface Fleet {
  pods: string[];
  containers: string[];
  setupMs: number;
}

export interface BenchContext {
  runtimes: BenchRuntime[];
  /** sequential samples per operation */
  n: number;
  /** samples for the heavy scenarios (concurrent pods, the big pull) */
  nHeavy: number;
  /** pods in the fleet the list and memory scenarios use */
  fleetPods: number;
  /** the restart-5k scenario's store: pods, and exited containers per pod */
  store: { pods: number; perPod: number };
  images: { busybox: BenchImage; big?: BenchImage };
  /** containerd only: runs ctr against the bench containerd (namespace k8s.io) */
  ctr?: (args: string[]) => Promise<string>;
  fleets: Map<RuntimeName, Fleet>;
  /** daemon RSS readings (bytes) taken after the warm-up, with no pod: the memory scenario's idle row */
  idleRss: Map<RuntimeName, number[]>;
  /** Resolves once the host's 1-minute load average is below --quiet-load (at once without it). */
  untilQuiet(what: string): Promise<void>;
  log(msg: string): void;
}

/**
 * A wait for a quiet host, for the phases whose wall times a shared machine would distort: polls
 * the 1-minute load average every 5 s until it is below `limit` (undefined: no wait).
 */
export function quietWaiter(limit: number | undefined, log: (msg: string) => void): (what: string) => Promise<void> {
  return async (what) => {
    if (limit === undefined) return;
    const start = Date.now();
    let nextLog = start;
    while (loadavg()[0]! >= limit) {
      if (Date.now() >= nextLog) {
        log(`${what}: waiting for the load average (${loadavg()[0]!.toFixed(2)}) to fall below ${limit}`);
        nextLog = Date.now() + 60_000;
      }
      await new Promise((r) => setTimeout(r, 5_000));
    }
    if (Date.now() - start > 1_000) log(`${what}: load ${loadavg()[0]!.toFixed(2)} after ${Math.round((Date.now() - start) / 1000)} s`);
  };
}

export interface Scenario {
  name: string;
  describe: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

export function describeError(e: unknown): string {
  if (isUnimplemented(e)) return 'not implemented';
  const m = e instanceof Error ? e.message : String(e);
  return `error: ${m.split('\n')[0]!.slice(0, 120)}`;
}

/**
 * Runs `samples` rounds; in each round every runtime still in the race does one sample, in turn
 * (A B A B ...), so drift on a noisy machine hits both alike. `setup` runs once per runtime
 * before the first sample, `cleanup` after the last (also after a failure). A runtime whose call
 * fails is dropped from the scenario with a note ("not implemented" for UNIMPLEMENTED); the
 * others go on.
 */
export async function sampled<S>(
  ctx: BenchContext,
  p: {
    scenario: string;
    ops: string[];
    samples: number;
    unit?: 'ms' | 'MiB';
    setup?: (rt: BenchRuntime) => Promise<S>;
    sample: (rt: BenchRuntime, state: S, i: number) => Promise<Record<string, number>>;
    cleanup?: (rt: BenchRuntime, state: S) => Promise<void>;
  },
): Promise<Row[]> {
  const series = new Map<RuntimeName, Map<string, Series>>();
  const notes = new Map<RuntimeName, string>();
  const states = new Map<RuntimeName, S>();
  for (const rt of ctx.runtimes) {
    series.set(rt.name, new Map(p.ops.map((o) => [o, { samples: [] }])));
    try {
      if (p.setup) states.set(rt.name, await p.setup(rt));
    } catch (e) {
      notes.set(rt.name, describeError(e));
      ctx.log(`${p.scenario}: ${rt.name} setup: ${describeError(e)}`);
    }
  }
  for (let i = 0; i < p.samples; i++) {
    for (const rt of ctx.runtimes) {
      if (notes.has(rt.name)) continue;
      try {
        const r = await p.sample(rt, states.get(rt.name) as S, i);
        for (const [op, v] of Object.entries(r)) series.get(rt.name)!.get(op)?.samples.push(v);
      } catch (e) {
        notes.set(rt.name, describeError(e));
        ctx.log(`${p.scenario}: ${rt.name} sample ${i}: ${describeError(e)}`);
      }
    }
  }
  for (const rt of ctx.runtimes) {
    if (!p.cleanup || !states.has(rt.name)) continue;
    try {
      await p.cleanup(rt, states.get(rt.name) as S);
    } catch (e) {
      ctx.log(`${p.scenario}: ${rt.name} cleanup: ${describeError(e)}`);
    }
  }
  return p.ops.map((op) => {
    const get = (name: RuntimeName): Series | undefined => {
      const s = series.get(name)?.get(op);
      if (!s) return undefined;
      return { samples: s.samples, note: notes.get(name) };
    };
    return { scenario: p.scenario, operation: op, unit: p.unit ?? 'ms', nori: get('nori') ?? { samples: [], note: 'not run' }, containerd: get('containerd') };
  });
}
