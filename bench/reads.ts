// The reads kubelet polls, with one running pod and again with the fleet running (issue 19 part
// 3): ContainerStatus and PodSandboxStatus (verbose, as critest's benchmark asks them, and plain,
// as kubelet does), the four list calls, and ImageStatus. A ContainerStatus right after
// StartContainer is timed on its own row: that is the sample critest's benchmark takes, and any
// work a runtime leaves running after a call returns lands on it. The 1-pod reads are timed
// twice: as the daemon's first asks, and after some hundred unmeasured rounds (the steady state
// kubelet's polling keeps a node in).

import type { Msg } from '../test/helpers/cri-client';
import { containerConfig, createdIds, removePod, runPod, startContainer, timed } from './cri';
import { describeError, sampled, type BenchContext, type Scenario } from './context';
import { ensureFleet } from './scenarios';
import type { Row } from './stats';
import type { BenchRuntime } from './runtimes/types';

interface Target {
  pod: { id: string; config: Msg };
  container: string;
}

// ListPodSandboxStats is last: containerd 1.6 refuses it at once where nori answers, and with
// 250 pods the client takes milliseconds to decode nori's answer, while nori's thread goes idle;
// the read after it then paid a wake-up on nori's side only (ImageStatus at 250 pods: 1.04-1.16 ×
// with p90s of 5-7 against 1 ms; 1.06 × with p90s of 4.4 against 5.3 ms once it followed
// ListContainerStats, which both answer).
const READS = [
  'ContainerStatus verbose',
  'ContainerStatus',
  'PodSandboxStatus verbose',
  'PodSandboxStatus',
  'ListContainers',
  'ListPodSandbox',
  'ListContainerStats',
  'ImageStatus',
  'ListPodSandboxStats',
] as const;

/** Row suffix of the first asks of each read, on a daemon that has served few calls yet. */
const FIRST_ASKS = ', 1 pod, first asks';
/** Unmeasured rounds of every read before the steady-state rows. */
const WARM_ROUNDS = 300;

/** One sample of every read against `t`; a read a runtime refuses is left out (noted once). */
async function readAll(ctx: BenchContext, rt: BenchRuntime, t: Target, suffix: string, failed: Set<string>): Promise<Record<string, number>> {
  const calls: Record<(typeof READS)[number], () => Promise<unknown>> = {
    'ContainerStatus verbose': () => rt.client.call('ContainerStatus', { container_id: t.container, verbose: true }),
    ContainerStatus: () => rt.client.call('ContainerStatus', { container_id: t.container }),
    'PodSandboxStatus verbose': () => rt.client.call('PodSandboxStatus', { pod_sandbox_id: t.pod.id, verbose: true }),
    PodSandboxStatus: () => rt.client.call('PodSandboxStatus', { pod_sandbox_id: t.pod.id }),
    ListContainers: () => rt.client.call('ListContainers', {}),
    ListPodSandbox: () => rt.client.call('ListPodSandbox', {}),
    ListContainerStats: () => rt.client.call('ListContainerStats', {}),
    ListPodSandboxStats: () => rt.client.call('ListPodSandboxStats', {}),
    ImageStatus: () => rt.client.call('ImageStatus', { image: { image: ctx.images.busybox.ref } }),
  };
  const out: Record<string, number> = {};
  for (const op of READS) {
    const key = `${op}${suffix}`;
    if (failed.has(key)) continue;
    try {
      [out[key]] = await timed(calls[op]);
    } catch (e) {
      failed.add(key);
      ctx.log(`reads: ${rt.name} ${key}: ${describeError(e)} (row left out)`);
    }
  }
  return out;
}

export const readsScenario: Scenario = {
  name: 'reads',
  describe: 'the reads kubelet polls (status, lists, stats, ImageStatus) with 1 running pod, then with the fleet; ContainerStatus right after StartContainer',
  async run(ctx) {
    const rows: Row[] = [];
    const failed = new Map<string, Set<string>>();
    const failedOf = (rt: BenchRuntime) => failed.get(rt.name) ?? failed.set(rt.name, new Set()).get(rt.name)!;
    // critest's sample: pod, create + start, then ContainerStatus(verbose) at once
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'reads',
        ops: ['ContainerStatus verbose, right after StartContainer', 'RemoveContainer after stop'],
        samples: ctx.n,
        setup: (rt) => runPod(rt, 'rd'),
        async sample(rt, pod) {
          const c = await rt.client.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(ctx.images.busybox.ref), sandbox_config: pod.config });
          const id = c.container_id as string;
          createdIds.add(id);
          await rt.client.call('StartContainer', { container_id: id });
          const [st] = await timed(() => rt.client.call('ContainerStatus', { container_id: id, verbose: true }));
          await rt.client.call('StopContainer', { container_id: id, timeout: 0 });
          const [rm] = await timed(() => rt.client.call('RemoveContainer', { container_id: id }));
          return { 'ContainerStatus verbose, right after StartContainer': st, 'RemoveContainer after stop': rm };
        },
        cleanup: (rt, pod) => removePod(rt, pod.id),
      })),
    );
    const one = (suffix: string) => READS.map((r) => `${r}${suffix}`);
    // The same pod for the first asks and for the asks once warm; removed after the latter.
    const onePod = new Map<string, Target>();
    const podOf = async (rt: BenchRuntime): Promise<Target> => {
      let t = onePod.get(rt.name);
      if (!t) {
        const pod = await runPod(rt, 'rd1');
        t = { pod, container: await startContainer(rt, pod, ctx.images.busybox.ref) };
        onePod.set(rt.name, t);
      }
      return t;
    };
    // A daemon's first asks of each read: nori's handlers still run in V8's interpreter there
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'reads',
        ops: one(FIRST_ASKS),
        samples: ctx.n,
        setup: podOf,
        sample: (rt, t) => readAll(ctx, rt, t, FIRST_ASKS, failedOf(rt)),
      })),
    );
    // kubelet asks these every second for as long as the node runs: the steady state is the
    // runtime after some hundreds of asks, unmeasured here
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'reads',
        ops: one(', 1 pod'),
        samples: ctx.n,
        async setup(rt): Promise<Target> {
          const t = await podOf(rt);
          const warming = new Set<string>();
          for (let i = 0; i < WARM_ROUNDS; i++) await readAll(ctx, rt, t, ' (warm-up)', warming);
          return t;
        },
        sample: (rt, t) => readAll(ctx, rt, t, ', 1 pod', failedOf(rt)),
        cleanup: (rt, t) => removePod(rt, t.pod.id),
      })),
    );
    const fleetSuffix = `, ${ctx.fleetPods} pods`;
    rows.push(
      ...(await sampled(ctx, {
        scenario: 'reads',
        ops: one(fleetSuffix),
        samples: ctx.n,
        async setup(rt): Promise<Target> {
          const f = await ensureFleet(ctx, rt);
          const i = Math.floor(f.pods.length / 2);
          const pod = ((await rt.client.call('PodSandboxStatus', { pod_sandbox_id: f.pods[i] })).status ?? {}) as Msg;
          return { pod: { id: pod.id as string, config: {} }, container: f.containers[i]! };
        },
        sample: (rt, t) => readAll(ctx, rt, t, fleetSuffix, failedOf(rt)),
      })),
    );
    return rows;
  },
};
