// Restart with a big store (issue 19 part 5: "with 5,000 containers in the store it answers
// within 3 s"). Each runtime gets `--store-pods` pods (default 50) with `--per-pod` containers
// each (default 100) that ran `sh -c 'exit N'` and exited: exited containers keep their rows,
// layers and bundles, but no monitor process stays behind them. Then, interleaved, kill -9 and
// graceful (SIGTERM) restarts, each timed from the new daemon's spawn until it first answers
// Version and then ListContainers; after each the store is checked (every container listed and
// EXITED, every pod READY), and after the last every container's exit code and reason. Last,
// the whole store is torn down (pods 10 at a time). Runs only when named (`--scenarios
// restart-5k`): it makes thousands of containers per runtime.

import type { Msg } from '../test/helpers/cri-client';
import { createdIds, inBatches, removeAllPods, removePod, runPod, timed } from './cri';
import { sampled, type BenchContext, type Scenario } from './context';
import { rssBytes } from './procs';
import type { Row } from './stats';
import type { BenchRuntime, RuntimeName } from './runtimes/types';

/** exit codes the containers end with, in turn: the reasons must come back as Completed / Error */
const EXIT_CODES = [0, 3, 7];

interface Store {
  pods: string[];
  /** container id -> the exit code it ended with */
  exits: Map<string, number>;
}

function exitConfig(image: string, name: string, code: number): Msg {
  return {
    metadata: { name, attempt: 0 },
    image: { image },
    command: ['sh', '-c', `exit ${code}`],
    log_path: `${name}.log`,
    labels: { 'nori-bench': 'true' },
    annotations: {},
    linux: {},
  };
}

async function listed(rt: BenchRuntime, state?: string): Promise<Msg[]> {
  const req = state ? { filter: { state: { state } } } : {};
  return ((await rt.client.call('ListContainers', req, { deadlineMs: 120_000 })).containers ?? []) as Msg[];
}

/** Pods, then their containers (10 calls at a time), then waits until every one has exited. */
async function fill(ctx: BenchContext, rt: BenchRuntime, pods: number, perPod: number): Promise<{ store: Store; upMs: number; exitedMs: number }> {
  const store: Store = { pods: [], exits: new Map() };
  const made: Array<{ id: string; config: Msg }> = [];
  const t0 = Date.now();
  await inBatches(Array.from({ length: pods }, (_, i) => i), 10, async () => {
    const pod = await runPod(rt, 'rs');
    made.push(pod);
    store.pods.push(pod.id);
  });
  const work = made.flatMap((pod) => Array.from({ length: perPod }, (_, i) => ({ pod, i })));
  let done = 0;
  await inBatches(work, 10, async ({ pod, i }) => {
    const code = EXIT_CODES[i % EXIT_CODES.length]!;
    const c = await rt.client.call('CreateContainer', { pod_sandbox_id: pod.id, config: exitConfig(ctx.images.busybox.ref, `x${i}`, code), sandbox_config: pod.config });
    const id = c.container_id as string;
    createdIds.add(id);
    store.exits.set(id, code);
    await rt.client.call('StartContainer', { container_id: id });
    if (++done % 500 === 0) ctx.log(`restart-5k: ${rt.name}: ${done} of ${work.length} containers started (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  });
  const upMs = Date.now() - t0;
  const total = pods * perPod;
  for (let waited = 0; ; waited++) {
    const exited = (await listed(rt, 'CONTAINER_EXITED')).length;
    if (exited >= total) break;
    if (waited > 600) throw new Error(`only ${exited} of ${total} containers exited within 5 min`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return { store, upMs, exitedMs: Date.now() - t0 };
}

/** After a restart: every container listed and EXITED, every pod READY. */
async function checkListed(rt: BenchRuntime, store: Store): Promise<void> {
  const all = await listed(rt);
  const ids = new Set(all.map((c) => c.id as string));
  const missing = [...store.exits.keys()].filter((id) => !ids.has(id));
  if (missing.length) throw new Error(`after the restart ${missing.length} of ${store.exits.size} containers are missing (e.g. ${missing[0]})`);
  const notExited = all.filter((c) => store.exits.has(c.id as string) && c.state !== 'CONTAINER_EXITED');
  if (notExited.length) throw new Error(`after the restart ${notExited.length} containers are not EXITED (e.g. ${notExited[0]!.id} ${notExited[0]!.state})`);
  const pods = ((await rt.client.call('ListPodSandbox', {})).items ?? []) as Msg[];
  const ready = new Set(pods.filter((p) => p.state === 'SANDBOX_READY').map((p) => p.id as string));
  const lost = store.pods.filter((id) => !ready.has(id));
  if (lost.length) throw new Error(`after the restart ${lost.length} of ${store.pods.length} pods are not READY`);
}

/** Every container's exit code and reason as it ended (ContainerStatus, 10 at a time). */
async function checkExits(rt: BenchRuntime, store: Store): Promise<void> {
  const wrong: string[] = [];
  await inBatches([...store.exits], 10, async ([id, code]) => {
    const st = (await rt.client.call('ContainerStatus', { container_id: id })).status as Msg;
    const reason = code === 0 ? 'Completed' : 'Error';
    if (st.state !== 'CONTAINER_EXITED' || st.exit_code !== code || st.reason !== reason) {
      wrong.push(`${id.slice(0, 12)}: ${st.state} ${st.exit_code} ${st.reason} (want ${code} ${reason})`);
    }
  });
  if (wrong.length) throw new Error(`${wrong.length} containers came back wrong after the restarts, e.g. ${wrong.slice(0, 3).join('; ')}`);
}

export const restartStoreScenario: Scenario = {
  name: 'restart-5k',
  describe: 'restart (kill -9 and SIGTERM) with --store-pods x --per-pod exited containers in the store (default 50 x 100): until Version / ListContainers answer; all checked after; teardown',
  async run(ctx) {
    const { pods, perPod } = ctx.store;
    const what = `${pods * perPod} exited containers in ${pods} pods`;
    const rows: Row[] = [];
    for (const rt of ctx.runtimes) {
      await removeAllPods(rt).catch((e) => ctx.log(`restart-5k: ${rt.name}: removing earlier pods: ${(e as Error).message}`));
      ctx.fleets.delete(rt.name);
    }
    const stores = new Map<RuntimeName, Store>();
    const upOp = `${pods * perPod} containers created + started (10 at a time, pods included)`;
    const exitedOp = `... until all had exited`;
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'restart-5k',
        ops: [upOp, exitedOp],
        samples: 1,
        async sample(rt) {
          const f = await fill(ctx, rt, pods, perPod);
          stores.set(rt.name, f.store);
          ctx.log(`restart-5k: ${rt.name}: ${f.store.exits.size} containers exited in ${(f.exitedMs / 1000).toFixed(0)} s`);
          return { [upOp]: f.upMs, [exitedOp]: f.exitedMs };
        },
      })),
    );
    await ctx.untilQuiet('restart-5k');
    const ops = {
      kv: `restart (kill -9) until Version answers, ${what}`,
      kl: `restart (kill -9) until ListContainers answers, ${what}`,
      tv: `restart (SIGTERM) until Version answers, ${what}`,
      tl: `restart (SIGTERM) until ListContainers answers, ${what}`,
      ts: `... SIGTERM until the old daemon exited`,
      lc: `ListContainers, ${what}`,
    };
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'restart-5k',
        ops: Object.values(ops),
        samples: ctx.nHeavy,
        async sample(rt, _s, i) {
          const store = stores.get(rt.name);
          if (!store) throw new Error('no store was made');
          if (!rt.restart) throw new Error('restart not supported by this runtime harness');
          const k = await rt.restart('kill');
          await checkListed(rt, store);
          const t = await rt.restart('term');
          await checkListed(rt, store);
          const [lc] = await timed(() => listed(rt));
          if (i === ctx.nHeavy - 1) await checkExits(rt, store);
          return { [ops.kv]: k.versionMs, [ops.kl]: k.listMs, [ops.tv]: t.versionMs, [ops.tl]: t.listMs, [ops.ts]: t.stopMs, [ops.lc]: lc };
        },
      })),
    );
    const rssOp = `daemon RSS after the restarts, ${what}`;
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'restart-5k',
        ops: [rssOp],
        unit: 'MiB',
        samples: 1,
        sample: async (rt) => ({ [rssOp]: (rssBytes(rt.pid) ?? NaN) / 2 ** 20 }),
      })),
    );
    const downOp = `${what} torn down (pods 10 at a time)`;
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'restart-5k',
        ops: [downOp],
        samples: 1,
        async sample(rt) {
          const store = stores.get(rt.name);
          const [ms] = await timed(() => inBatches(store?.pods ?? [], 10, (id) => removePod(rt, id)));
          stores.delete(rt.name);
          return { [downOp]: ms };
        },
      })),
    );
    return rows;
  },
};
