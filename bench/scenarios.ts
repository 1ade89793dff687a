// The scenarios of issue 9. Each returns table rows; times are client-side wall clock of the
// gRPC calls over the runtime's unix socket.

import { readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import type { Msg } from '../test/helpers/cri-client';
import { containerConfig, createdIds, inBatches, removeAllPods, removePod, runPod, startContainer, timed } from './cri';
import { describeError, sampled, type BenchContext, type BenchImage, type Fleet, type Scenario } from './context';
import { comm, podInfraPids, pssBytes, rssBytes } from './procs';
import type { Row } from './stats';
import type { BenchRuntime, RuntimeName } from './runtimes/types';

const MiB = 1024 * 1024;

const sandbox: Scenario = {
  name: 'sandbox',
  describe: 'RunPodSandbox, then StopPodSandbox + RemovePodSandbox, sequential',
  run: (ctx) =>
    sampled(ctx, {
      scenario: 'sandbox',
      ops: ['RunPodSandbox', 'StopPodSandbox', 'RemovePodSandbox', 'Stop+Remove'],
      samples: ctx.n,
      async sample(rt) {
        const [run, pod] = await timed(() => runPod(rt, 'sb'));
        const [stop] = await timed(() => rt.client.call('StopPodSandbox', { pod_sandbox_id: pod.id }));
        const [rm] = await timed(() => rt.client.call('RemovePodSandbox', { pod_sandbox_id: pod.id }));
        return { RunPodSandbox: run, StopPodSandbox: stop, RemovePodSandbox: rm, 'Stop+Remove': stop + rm };
      },
    }),
};

const container: Scenario = {
  name: 'container',
  describe: 'CreateContainer, StartContainer, StopContainer (timeout 0), RemoveContainer in one running pod',
  run: (ctx) =>
    sampled(ctx, {
      scenario: 'container',
      ops: ['CreateContainer', 'StartContainer', 'StopContainer', 'RemoveContainer'],
      samples: ctx.n,
      setup: (rt) => runPod(rt, 'ctr'),
      async sample(rt, pod) {
        const [create, c] = await timed(() =>
          rt.client.call('CreateContainer', { pod_sandbox_id: pod.id, config: containerConfig(ctx.images.busybox.ref), sandbox_config: pod.config }),
        );
        const id = c.container_id as string;
        createdIds.add(id);
        const [start] = await timed(() => rt.client.call('StartContainer', { container_id: id }));
        const [stop] = await timed(() => rt.client.call('StopContainer', { container_id: id, timeout: 0 }));
        const [rm] = await timed(() => rt.client.call('RemoveContainer', { container_id: id }));
        return { CreateContainer: create, StartContainer: start, StopContainer: stop, RemoveContainer: rm };
      },
      cleanup: (rt, pod) => removePod(rt, pod.id),
    }),
};

const podContainer: Scenario = {
  name: 'pod-container',
  describe: 'pod + container from scratch (CONVENTIONS): run pod, create + start a container, stop + remove the pod; image present',
  run: (ctx) =>
    sampled(ctx, {
      scenario: 'pod-container',
      ops: ['pod+container start', 'stop+remove pod', 'pod+container from scratch'],
      samples: ctx.n,
      async sample(rt) {
        const [up, pod] = await timed(async () => {
          const pod = await runPod(rt, 'pc');
          await startContainer(rt, pod, ctx.images.busybox.ref);
          return pod;
        });
        const [down] = await timed(() => removePod(rt, pod.id));
        return { 'pod+container start': up, 'stop+remove pod': down, 'pod+container from scratch': up + down };
      },
    }),
};

const exec: Scenario = {
  name: 'exec',
  describe: 'ExecSync `true` (timeout 10 s) in a running container',
  run: (ctx) =>
    sampled(ctx, {
      scenario: 'exec',
      ops: ['ExecSync true'],
      samples: ctx.n,
      async setup(rt) {
        const pod = await runPod(rt, 'ex');
        const id = await startContainer(rt, pod, ctx.images.busybox.ref);
        return { pod, id };
      },
      async sample(rt, s) {
        const [t, res] = await timed(() => rt.client.call('ExecSync', { container_id: s.id, cmd: ['true'], timeout: 10 }));
        if (res.exit_code !== 0) throw new Error(`ExecSync true exited ${res.exit_code}: ${String(res.stderr)}`);
        return { 'ExecSync true': t };
      },
      cleanup: (rt, s) => removePod(rt, s.pod.id),
    }),
};

const concurrent: Scenario = {
  name: 'concurrent',
  describe: '10 and 50 RunPodSandbox calls at once: time until every pod is READY (then all stopped + removed)',
  async run(ctx) {
    const rows: Row[] = [];
    for (const width of [10, 50]) {
      rows.push(
        ...(await sampled(ctx, {
          scenario: 'concurrent',
          ops: [`${width} pods at once: all READY`, `${width} pods at once: all removed`],
          samples: ctx.nHeavy,
          async sample(rt) {
            const ids: string[] = [];
            try {
              const [up] = await timed(() =>
                Promise.all(
                  Array.from({ length: width }, async () => {
                    const p = await runPod(rt, `cc${width}`);
                    ids.push(p.id);
                  }),
                ),
              );
              for (const id of ids) {
                const st = await rt.client.call('PodSandboxStatus', { pod_sandbox_id: id });
                if (st.status?.state !== 'SANDBOX_READY') throw new Error(`pod ${id} is ${st.status?.state}`);
              }
              const [down] = await timed(() => Promise.all(ids.map((id) => removePod(rt, id))));
              ids.length = 0;
              return { [`${width} pods at once: all READY`]: up, [`${width} pods at once: all removed`]: down };
            } finally {
              if (ids.length) await removeAllPods(rt).catch(() => undefined);
            }
          },
        })),
      );
    }
    return rows;
  },
};

/** Removes the image and waits until the runtime no longer holds its content, so the next pull
 *  is cold. ImageStatus must report no image. For containerd, CRI RemoveImage deletes the last
 *  reference with a synchronous GC; we still poll `ctr content ls` until none of the image's
 *  digests is left and the snapshot count is back to its cold baseline. For nori, no file or
 *  directory under its root may be named after a blob digest or a layer chain ID of the image. */
async function makeCold(ctx: BenchContext, rt: BenchRuntime, img: BenchImage, coldSnapshots?: number): Promise<void> {
  const st = await rt.client.call('ImageStatus', { image: { image: img.ref } });
  const hexes = [...img.digests, ...img.chainIds].map((d) => d.replace(/^sha256:/, ''));
  const held = () => namesUnder(rt.dataDir, 6).filter((n) => hexes.some((h) => n.includes(h)));
  if (st.image && rt.name !== 'containerd' && held().length === 0 && !unverifiable.has(rt.name)) {
    // the walk finds nothing even with the image present: it cannot prove a cold state here
    unverifiable.add(rt.name);
    ctx.log(`pull: ${rt.name}: no file under ${rt.dataDir} is named after ${img.ref}'s digests; cold state checked by ImageStatus only`);
  }
  if (st.image) await rt.client.call('RemoveImage', { image: { image: img.ref } });
  const after = await rt.client.call('ImageStatus', { image: { image: img.ref } });
  if (after.image) throw new Error(`${img.ref} still present after RemoveImage`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    let left: string[];
    if (rt.name === 'containerd' && ctx.ctr) {
      const content = await ctx.ctr(['content', 'ls', '-q']);
      left = img.digests.filter((d) => content.includes(d));
      const snaps = await snapshotCount(ctx);
      if (coldSnapshots !== undefined && snaps > coldSnapshots) left.push(`${snaps - coldSnapshots} snapshot(s)`);
    } else {
      left = held();
    }
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${rt.name} still holds ${left.slice(0, 3).join(', ')} of ${img.ref} after RemoveImage`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const unverifiable = new Set<string>();

/** Entry names under `dir`, `depth` levels deep (symlinks not followed). */
function namesUnder(dir: string, depth: number): string[] {
  const out: string[] = [];
  const walk = (d: string, left: number) => {
    let ents: Dirent[];
    try {
      ents = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      out.push(e.name);
      if (left > 1 && e.isDirectory()) walk(join(d, e.name), left - 1);
    }
  };
  walk(dir, depth);
  return out;
}

async function snapshotCount(ctx: BenchContext): Promise<number> {
  return (await ctx.ctr!(['snapshots', '--snapshotter', 'overlayfs', 'ls'])).trim().split('\n').length - 1;
}

const pull: Scenario = {
  name: 'pull',
  describe: 'cold PullImage (image and its content removed first, not timed) of the busybox fixture and the ~200 MB image',
  async run(ctx) {
    const rows: Row[] = [];
    // A cold pull removes the image first: nori refuses to remove an image its containers use
    // (the fleet of list/memory/stats), so the fleet goes first; ensureFleet makes it again.
    await removeFleets(ctx);
    const imgs: Array<[BenchImage, number]> = [[ctx.images.busybox, ctx.n]];
    if (ctx.images.big) imgs.push([ctx.images.big, ctx.nHeavy]);
    for (const [img, samples] of imgs) {
      const op = `PullImage ${img.label}`;
      rows.push(
        ...(await sampled(ctx, {
          scenario: 'pull',
          ops: [op],
          samples,
          async setup(rt) {
            await makeCold(ctx, rt, img);
            return rt.name === 'containerd' && ctx.ctr ? await snapshotCount(ctx) : undefined;
          },
          async sample(rt, cold, i) {
            if (i > 0) await makeCold(ctx, rt, img, cold);
            const [t] = await timed(() => rt.client.call('PullImage', { image: { image: img.ref } }, { deadlineMs: 600_000 }));
            return { [op]: t };
          },
        })),
      );
    }
    // the other scenarios need busybox: make sure it is back wherever a sample failed
    for (const rt of ctx.runtimes) await rt.client.call('PullImage', { image: { image: ctx.images.busybox.ref } }).catch(() => undefined);
    return rows;
  },
};

/** `fleetPods` pods with one running container each, made 10 at a time; shared by list and memory. */
export async function ensureFleet(ctx: BenchContext, rt: BenchRuntime): Promise<Fleet> {
  const have = ctx.fleets.get(rt.name);
  if (have) return have;
  const fleet: Fleet = { pods: [], containers: [], setupMs: 0 };
  ctx.fleets.set(rt.name, fleet);
  const [ms] = await timed(() =>
    inBatches(
      Array.from({ length: ctx.fleetPods }, (_, i) => i),
      10,
      async () => {
        const pod = await runPod(rt, 'fl');
        fleet.pods.push(pod.id);
        fleet.containers.push(await startContainer(rt, pod, ctx.images.busybox.ref));
      },
    ),
  );
  fleet.setupMs = ms;
  ctx.log(`fleet: ${rt.name} ran ${fleet.pods.length} pods + containers in ${(ms / 1000).toFixed(1)} s`);
  return fleet;
}

export async function removeFleets(ctx: BenchContext): Promise<void> {
  for (const rt of ctx.runtimes) {
    const f = ctx.fleets.get(rt.name);
    if (!f) continue;
    await inBatches(f.pods, 10, (id) => removePod(rt, id)).catch((e) => ctx.log(`fleet: ${rt.name} removal: ${describeError(e)}`));
    ctx.fleets.delete(rt.name);
  }
}

const list: Scenario = {
  name: 'list',
  describe: 'ListContainers, ListContainerStats, ListPodSandbox with the fleet (default 100 pods x 1 container) running',
  run: (ctx) =>
    sampled(ctx, {
      scenario: 'list',
      ops: ['ListContainers', 'ListContainerStats', 'ListPodSandbox'],
      samples: ctx.n,
      async setup(rt) {
        const f = await ensureFleet(ctx, rt);
        return f.containers.length;
      },
      async sample(rt, count) {
        const [lc, res] = await timed(() => rt.client.call('ListContainers', {}));
        const got = (res.containers as Msg[] | undefined)?.length ?? 0;
        if (got < count) throw new Error(`ListContainers returned ${got} of ${count} containers`);
        const [ls] = await timed(() => rt.client.call('ListContainerStats', {}));
        const [lp] = await timed(() => rt.client.call('ListPodSandbox', {}));
        return { ListContainers: lc, ListContainerStats: ls, ListPodSandbox: lp };
      },
    }),
};

const memory: Scenario = {
  name: 'memory',
  describe: 'daemon RSS idle (no pods) and with the fleet; monitor (conmon / containerd-shim-runc-v2) RSS and PSS per container',
  async run(ctx) {
    const readings = 5;
    // Taken at start-up, after the warm-up and before any scenario made pods: idle for real, not
    // after a fleet (which would leave its high-water mark, or still run).
    const idleOf = (name: RuntimeName) => ({ samples: (ctx.idleRss.get(name) ?? []).map((b) => b / MiB) });
    const idle: Row[] = [
      {
        scenario: 'memory',
        operation: 'daemon RSS idle (no pod yet)',
        unit: 'MiB',
        nori: idleOf('nori'),
        containerd: ctx.runtimes.some((rt) => rt.name === 'containerd') ? idleOf('containerd') : undefined,
      },
    ];
    const loaded = await sampled(ctx, {
      scenario: 'memory',
      ops: [
        `daemon RSS, ${ctx.fleetPods} pods`,
        'monitor RSS per container',
        'monitor PSS per container',
        'pod infra RSS per pod',
        `daemon + monitors + infra RSS, ${ctx.fleetPods} pods`,
      ],
      unit: 'MiB',
      samples: readings,
      async setup(rt) {
        const f = await ensureFleet(ctx, rt);
        const mons = rt.monitorPids();
        const infra = podInfraPids(mons, 'sleep');
        ctx.log(
          `memory: ${rt.name}: ${mons.length} monitor processes (${[...new Set(mons.map((p) => comm(p)))].join(', ')}) for ` +
            `${f.containers.length} containers in ${f.pods.length} pods; ${infra.length} pod infra processes (${[...new Set(infra.map((p) => comm(p)))].join(', ')})`,
        );
        return f;
      },
      async sample(rt, f) {
        await new Promise((r) => setTimeout(r, 200));
        const mons = rt.monitorPids();
        const rss = mons.reduce((a, p) => a + (rssBytes(p) ?? 0), 0);
        const pss = mons.reduce((a, p) => a + (pssBytes(p) ?? 0), 0);
        const d = rssBytes(rt.pid) ?? NaN;
        const infra = podInfraPids(mons, 'sleep').reduce((a, p) => a + (rssBytes(p) ?? 0), 0);
        return {
          [`daemon RSS, ${ctx.fleetPods} pods`]: d / MiB,
          'monitor RSS per container': rss / f.containers.length / MiB,
          'monitor PSS per container': pss / f.containers.length / MiB,
          'pod infra RSS per pod': infra / f.pods.length / MiB,
          [`daemon + monitors + infra RSS, ${ctx.fleetPods} pods`]: (d + rss + infra) / MiB,
        };
      },
    });
    return [...idle, ...loaded];
  },
};

export const SCENARIOS: Scenario[] = [sandbox, container, podContainer, exec, concurrent, pull, memory, list];
