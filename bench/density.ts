// Density and restart (issue 19 part 5): RunPodSandbox with no other pod, then a fleet of
// `--pods` pods x 2 running containers, RunPodSandbox again with the fleet running,
// ListContainers and `crictl ps -a` over the fleet, the time a restarted daemon (kill -9,
// containers keep running) takes to answer Version and ListContainers with the fleet in its
// store, and the time to tear the fleet down (10 pods at a time).

import { inBatches, removeAllPods, removePod, runPod, startContainer, timed } from './cri';
import { crictlPath, crictlTimed } from './crictl';
import { sampled, type BenchContext, type Scenario } from './context';
import type { Row } from './stats';
import type { BenchRuntime, RuntimeName } from './runtimes/types';

async function runPodSamples(ctx: BenchContext, op: string): Promise<Row[]> {
  return sampled(ctx, {
    scenario: 'density',
    ops: [op],
    samples: ctx.n,
    async sample(rt) {
      const [ms, pod] = await timed(() => runPod(rt, 'dn'));
      await removePod(rt, pod.id);
      return { [op]: ms };
    },
  });
}

/** How long the fleet is left alone before the settled RunPodSandbox row. */
const SETTLE_MS = 30_000;

export const densityScenario: Scenario = {
  name: 'density',
  describe: 'RunPodSandbox with no other pod and with the fleet (--pods pods x 2 containers) running; restart (kill -9) until ListContainers answers; fleet teardown',
  async run(ctx) {
    const pods = ctx.fleetPods;
    const rows: Row[] = [];
    // start from an empty runtime: the other scenarios' fleet would not be "1 pod"
    for (const rt of ctx.runtimes) {
      await removeAllPods(rt).catch((e) => ctx.log(`density: ${rt.name}: removing earlier pods: ${(e as Error).message}`));
      ctx.fleets.delete(rt.name);
    }
    rows.push(...(await runPodSamples(ctx, 'RunPodSandbox, no other pod')));
    const fleets = new Map<RuntimeName, string[]>();
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'density',
        ops: [`${pods} pods x 2 containers up (10 at a time)`, 'RunPodSandbox while the fleet was made (first 10)', 'RunPodSandbox while the fleet was made (last 10)'],
        samples: 1,
        async sample(rt) {
          const ids: string[] = [];
          fleets.set(rt.name, ids);
          const runMs: number[] = [];
          const [ms] = await timed(() =>
            inBatches(
              Array.from({ length: pods }, (_, i) => i),
              10,
              async () => {
                const [t, pod] = await timed(() => runPod(rt, 'dnf'));
                runMs.push(t);
                ids.push(pod.id);
                await startContainer(rt, pod, ctx.images.busybox.ref, 'c1');
                await startContainer(rt, pod, ctx.images.busybox.ref, 'c2');
              },
            ),
          );
          const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
          return {
            [`${pods} pods x 2 containers up (10 at a time)`]: ms,
            'RunPodSandbox while the fleet was made (first 10)': median(runMs.slice(0, 10)),
            'RunPodSandbox while the fleet was made (last 10)': median(runMs.slice(-10)),
          };
        },
      })),
    );
    rows.push(...(await runPodSamples(ctx, `RunPodSandbox, ${pods} pods running`)));
    // The same once the fleet has settled: right after 2 x pods containers were made, the host is
    // still busy with them (page cache writeback, the runtimes' first looks at each new writable
    // layer), and the row above measures that as much as the fleet's own weight.
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    rows.push(...(await runPodSamples(ctx, `RunPodSandbox, ${pods} pods running, ${SETTLE_MS / 1000} s after they were made`)));
    const listOp = `ListContainers, ${pods} pods + ${2 * pods} containers`;
    const crictl = crictlPath();
    const psOp = `crictl ps -a (process included), ${pods} pods + ${2 * pods} containers`;
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'density',
        ops: crictl ? [listOp, psOp] : [listOp],
        samples: ctx.n,
        async sample(rt) {
          const [lc, res] = await timed(() => rt.client.call('ListContainers', {}));
          const listed = ((res.containers ?? []) as unknown[]).length;
          if (listed < 2 * pods) throw new Error(`ListContainers shows ${listed} of ${2 * pods} containers`);
          return crictl ? { [listOp]: lc, [psOp]: await crictlTimed(crictl, rt.endpoint, ['ps', '-a']) } : { [listOp]: lc };
        },
      })),
    );
    if (!crictl) ctx.log('density: no crictl (set NORI_BENCH_CRICTL or put crictl on PATH): no `crictl ps -a` row');
    const what = `${pods} pods + ${2 * pods} containers`;
    const restartOps = [`restart (kill -9) until Version answers, ${what}`, `restart (kill -9) until ListContainers answers, ${what}`];
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'density',
        ops: restartOps,
        samples: ctx.nHeavy,
        async sample(rt: BenchRuntime) {
          if (!rt.restart) throw new Error('restart not supported by this runtime harness');
          const t = await rt.restart('kill');
          const listed = ((await rt.client.call('ListContainers', {})).containers ?? []).length as number;
          if (listed < 2 * pods) throw new Error(`after the restart ListContainers shows ${listed} of ${2 * pods} containers`);
          const running = ((await rt.client.call('ListContainers', { filter: { state: { state: 'CONTAINER_RUNNING' } } })).containers ?? []).length as number;
          if (running < 2 * pods) throw new Error(`after the restart ${running} of ${2 * pods} containers are running`);
          return { [restartOps[0]!]: t.versionMs, [restartOps[1]!]: t.listMs };
        },
      })),
    );
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'density',
        ops: [`${pods} pods torn down (10 at a time)`],
        samples: 1,
        async sample(rt) {
          const ids = fleets.get(rt.name) ?? [];
          const [ms] = await timed(() => inBatches(ids, 10, (id) => removePod(rt, id)));
          fleets.delete(rt.name);
          return { [`${pods} pods torn down (10 at a time)`]: ms };
        },
      })),
    );
    return rows;
  },
};
