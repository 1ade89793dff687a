// RunPodSandbox and StopPodSandbox+RemovePodSandbox latency, p50/p90 over N pods, sequential and
// K at a time, for one or more CRI endpoints measured alternately in the same run (absolute
// times drift on this machine: compare ratios). The first endpoint is the one the ratio is of.
//
//   node dist/bench/sandbox.js [--pods 50] [--concurrency 10] unix:///run/nori-x/nori.sock \
//        unix:///run/containerd-ref/containerd.sock
//
// Last line: `sandbox-bench: RunPodSandbox p50 ratio=<A/B> (sequential), <A/B> (K at a time)`.
// Every pod it makes carries the label nori-bench-sandbox=<run id> and is removed at the end.

import { randomBytes, randomUUID } from 'node:crypto';
import { criClient, type CriClient } from '../test/helpers/cri-client';

interface Args {
  pods: number;
  concurrency: number;
  endpoints: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { pods: 50, concurrency: 10, endpoints: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--pods') a.pods = Number(argv[++i]);
    else if (argv[i] === '--concurrency') a.concurrency = Number(argv[++i]);
    else a.endpoints.push(argv[i]!);
  }
  if (a.endpoints.length === 0 || !(a.pods > 0) || !(a.concurrency > 0)) {
    throw new Error('usage: sandbox.js [--pods N] [--concurrency K] ENDPOINT [ENDPOINT...]');
  }
  return a;
}

const RUN_ID = randomBytes(4).toString('hex');
let seq = 0;

function podConfig(): Record<string, unknown> {
  const name = `sbbench-${RUN_ID}-${++seq}`;
  return {
    metadata: { name, uid: randomUUID(), namespace: 'nori-bench', attempt: 0 },
    hostname: name,
    log_directory: `/tmp/nori-bench-logs/${name}`,
    labels: { 'nori-bench-sandbox': RUN_ID },
    annotations: {},
    linux: {},
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t) / 1e6];
}

/** Runs `n` jobs with at most `k` in flight; returns each job's latency. */
async function pool(n: number, k: number, job: (i: number) => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(k, n) }, async () => {
      while (next < n) out.push(await job(next++));
    }),
  );
  return out;
}

interface Sample {
  run: number[];
  teardown: number[];
}

async function phase(c: CriClient, pods: number, k: number): Promise<Sample> {
  const ids: string[] = [];
  const run = await pool(pods, k, async () => {
    const [res, ms] = await timed(() => c.call('RunPodSandbox', { config: podConfig() }));
    ids.push(res.pod_sandbox_id as string);
    return ms;
  });
  const teardown = await pool(ids.length, k, async (i) => {
    const [, ms] = await timed(async () => {
      await c.call('StopPodSandbox', { pod_sandbox_id: ids[i] });
      await c.call('RemovePodSandbox', { pod_sandbox_id: ids[i] });
    });
    return ms;
  });
  return { run, teardown };
}

async function cleanup(c: CriClient): Promise<void> {
  const items = (await c.call('ListPodSandbox', { filter: { label_selector: { 'nori-bench-sandbox': RUN_ID } } })).items as Array<{ id: string }>;
  for (const p of items) {
    await c.call('StopPodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
    await c.call('RemovePodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
  }
}

const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p90: percentile(s, 90) };
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const clients = args.endpoints.map((e) => criClient(e.replace(/^unix:\/\//, '')));
  const results = new Map<string, Record<string, Sample>>();
  try {
    for (const [mode, k] of [['sequential', 1], [`${args.concurrency} at a time`, args.concurrency]] as const) {
      // alternate endpoints in slices of 10 pods so drift hits both alike
      for (let done = 0; done < args.pods; done += 10) {
        const n = Math.min(10, args.pods - done);
        for (const [i, c] of clients.entries()) {
          const r = results.get(args.endpoints[i]!) ?? {};
          const s = await phase(c, n, k);
          const acc = (r[mode] ??= { run: [], teardown: [] });
          acc.run.push(...s.run);
          acc.teardown.push(...s.teardown);
          results.set(args.endpoints[i]!, r);
        }
      }
    }
  } finally {
    for (const c of clients) await cleanup(c).catch(() => undefined);
    for (const c of clients) c.close();
  }
  const ratios: string[] = [];
  for (const mode of ['sequential', `${args.concurrency} at a time`]) {
    console.log(`\n${mode}, ${args.pods} pods`);
    console.log('endpoint'.padEnd(48), 'Run p50', 'Run p90', 'Stop+Remove p50', 'Stop+Remove p90');
    for (const ep of args.endpoints) {
      const s = results.get(ep)![mode]!;
      const r = fmt(s.run);
      const t = fmt(s.teardown);
      console.log(ep.padEnd(48), r.p50.toFixed(0).padStart(7), r.p90.toFixed(0).padStart(7), t.p50.toFixed(0).padStart(15), t.p90.toFixed(0).padStart(15));
    }
    if (args.endpoints.length >= 2) {
      ratios.push(`${(fmt(results.get(args.endpoints[0]!)![mode]!.run).p50 / fmt(results.get(args.endpoints[1]!)![mode]!.run).p50).toFixed(2)} (${mode})`);
    }
  }
  if (ratios.length > 0) console.log(`sandbox-bench: RunPodSandbox p50 ratio=${ratios.join(', ')}`);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
