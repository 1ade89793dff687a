// Crash safety, point by point: a real bin/nori is started with one fault point armed
// (NORI_FAULT_POINTS, src/fault.ts), the call that reaches it kills the daemon as kill -9 would,
// nori is restarted on the same dirs, kubelet's next calls are made (retry the create, or
// stop/remove again), and then nothing of the victim may be left (test/helpers/leaks.ts: pins,
// netns, veths, IP leases, mounts, cgroups, processes, dirs, store rows). A "keeper" pod with a
// running container, started before any crash, must stay RUNNING with the same pid throughout.
//
// `npm test` runs FAST_POINTS; NORI_FAULTS=all runs every point (npm run test:faults), and
// NORI_FAULTS=a,b runs the points named. NORI_FAULT_NETWORK=builtin runs them on the built-in
// network instead of a CNI conflist (its own points only count there).

import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { FAULT_POINTS, parseFaultPoints, type FaultPointName } from '../../../src/fault';
import { REPO } from '../../helpers/daemon';
import { assertNoLeaks, snapshot, type Snapshot } from '../../helpers/leaks';
import { pushFixtures, startRegistry, type PushedFixtures, type TestRegistry } from '../../helpers/registry';
import { FaultEnv } from './faults_env';

// The three whose recovery does the most (rollback with CNI, orphaned conmon + runc, temp layer dirs).
export const FAST_POINTS: FaultPointName[] = ['run-pod.after-cni-add', 'create.after-runtime-create', 'pull.mid-layer'];

function selected(): FaultPointName[] {
  const v = process.env.NORI_FAULTS;
  if (!v) return FAST_POINTS;
  // the built-in network's own points are not reached on CNI
  if (v === 'all') return FAULT_POINTS.filter((p) => FaultEnv.builtin || !SCENARIOS[p].builtinOnly);
  return v.split(',').map((s) => s.trim()) as FaultPointName[];
}

/** What each point needs of the victim, and whether start-up recovery alone must clean up. */
interface Scenario {
  /** Victim objects made before the fatal call (on the armed daemon; they do not reach the point). */
  setup: 'none' | 'pod' | 'pod+created' | 'pod+running' | 'pod+stopped-container' | 'pod+stopped';
  /** Right after the restart, before any call: nothing new since just before the fatal call. */
  cleanAfterRestart: boolean;
  /** Reached only on the built-in network (NORI_FAULT_NETWORK=builtin). */
  builtinOnly?: boolean;
}

const SCENARIOS: Record<FaultPointName, Scenario> = {
  'run-pod.after-ns-pinned': { setup: 'none', cleanAfterRestart: true },
  'run-pod.after-net-lease': { setup: 'none', cleanAfterRestart: true, builtinOnly: true },
  'run-pod.after-net-veth': { setup: 'none', cleanAfterRestart: true, builtinOnly: true },
  'run-pod.after-cni-add': { setup: 'none', cleanAfterRestart: true },
  'run-pod.after-ready-write': { setup: 'none', cleanAfterRestart: false },
  'create.after-overlay-mount': { setup: 'pod', cleanAfterRestart: true },
  'create.after-prepared-mounts': { setup: 'pod', cleanAfterRestart: true },
  'create.after-runtime-create': { setup: 'pod', cleanAfterRestart: true },
  'start.after-runtime-start': { setup: 'pod+created', cleanAfterRestart: false },
  'stop-pod.after-containers-stopped': { setup: 'pod+running', cleanAfterRestart: false },
  'stop-pod.after-net-veth-deleted': { setup: 'pod+running', cleanAfterRestart: false, builtinOnly: true },
  'stop-pod.after-cni-del': { setup: 'pod+running', cleanAfterRestart: false },
  'remove-pod.after-containers-removed': { setup: 'pod+stopped', cleanAfterRestart: false },
  'remove-pod.after-unpin': { setup: 'pod+stopped', cleanAfterRestart: false },
  // the exit is recorded, runc's state and cgroups are gone, the rootfs is still mounted
  'container-exit.after-runtime-delete': { setup: 'pod+running', cleanAfterRestart: false },
  'remove-container.after-unmount': { setup: 'pod+stopped-container', cleanAfterRestart: false },
  // the row is gone, the files are not yet: start-up recovery removes them
  'remove-container.after-row-deleted': { setup: 'pod+stopped-container', cleanAfterRestart: false },
  'pull.mid-layer': { setup: 'none', cleanAfterRestart: true },
  'pull.after-layer-commit': { setup: 'none', cleanAfterRestart: true },
  'pull.after-layers': { setup: 'none', cleanAfterRestart: true },
};

describe('fault points', () => {
  it('are each placed exactly once in src/, and unknown names are refused', () => {
    const src = path.join(REPO, 'src');
    const text = (function read(dir: string): string {
      return readdirSync(dir, { withFileTypes: true })
        .map((e) => (e.isDirectory() ? read(path.join(dir, e.name)) : e.name.endsWith('.ts') && e.name !== 'fault.ts' ? readFileSync(path.join(dir, e.name), 'utf8') : ''))
        .join('\n');
    })(src);
    for (const p of FAULT_POINTS) assert.equal(text.split(`'${p}')`).length - 1, 1, `${p} is placed once`);
    assert.throws(() => parseFaultPoints('run-pod.after-cni-add,nope'), /unknown fault point "nope"/);
    assert.deepEqual([...parseFaultPoints(' pull.mid-layer , start.after-runtime-start')!], ['pull.mid-layer', 'start.after-runtime-start']);
    assert.equal(parseFaultPoints(''), undefined);
  });
});

describe('crash safety: kill -9 at every fault point, restart, retry, no leaks', function () {
  this.timeout(240_000);
  let reg: TestRegistry;
  let fx: PushedFixtures;
  let env: FaultEnv;
  let pullImage = '';
  let keeper = { pod: '', ctr: '', pid: 0 };
  let baseline: Snapshot;
  const c = () => env.c;

  async function assertKeeper(): Promise<void> {
    const st = await c().call('ContainerStatus', { container_id: keeper.ctr, verbose: true });
    assert.equal(st.status.state, 'CONTAINER_RUNNING');
    assert.equal(JSON.parse(st.info.info).pid, keeper.pid);
    const stat = readFileSync(`/proc/${keeper.pid}/stat`, 'utf8');
    assert.notEqual(stat.slice(stat.lastIndexOf(')') + 2)[0], 'Z', 'keeper container is a zombie');
    const pod = await c().call('PodSandboxStatus', { pod_sandbox_id: keeper.pod });
    assert.equal(pod.status.state, 'SANDBOX_READY');
  }

  before(async function () {
    if (!FaultEnv.usable()) this.skip();
    reg = await startRegistry();
    fx = await pushFixtures(reg, { names: ['busybox', 'layers'] });
    pullImage = fx.get('layers').reference;
    env = new FaultEnv(fx);
    await env.start();
    keeper = await env.runningPod('keeper');
    baseline = await snapshot(env.nori);
    assert.equal(baseline.veths!.length, 1, 'the keeper has one veth on the bridge');
    const leases = FaultEnv.builtin ? baseline.rows!.filter((r) => r.startsWith('net_leases:')) : baseline.leases!;
    assert.equal(leases.length, 1, 'the keeper holds one IP lease');
    assert.ok(baseline.processes!.length >= 2, `conmon and the keeper's process are seen: ${baseline.processes}`);
  });

  after(async () => {
    await env?.removeAllAndAssertClean(reg);
  });

  // A failed point must not fail the next ones: its victim goes, on a daemon that is up and unarmed.
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !env?.nori) return;
    await env.restart();
    for (const p of (await c().call('ListPodSandbox', { filter: { label_selector: { app: 'victim' } } })).items) await env.removePod(p.id).catch(() => undefined);
    await c().call('RemoveImage', { image: { image: pullImage } }).catch(() => undefined);
  });

  for (const point of selected()) {
    const sc = SCENARIOS[point];
    it(point, async function () {
      assert.ok(sc, `no scenario for ${point}`);
      await env.restart({ NORI_FAULT_POINTS: point });
      assert.ok(env.nori.logs.some((l) => l.msg?.startsWith('fault injection armed')), 'the daemon says it is armed');
      await assertKeeper();

      // ---- the victim, up to the fatal call
      let pod = '';
      let ctr = '';
      if (sc.setup !== 'none') pod = await env.runPod('victim');
      if (sc.setup !== 'none' && sc.setup !== 'pod') ctr = await env.createCtr(pod, 'victim', 'app');
      if (sc.setup === 'pod+running' || sc.setup === 'pod+stopped-container' || sc.setup === 'pod+stopped') {
        await c().call('StartContainer', { container_id: ctr });
        assert.equal(await env.state(ctr), 'CONTAINER_RUNNING');
      }
      if (sc.setup === 'pod+stopped-container') await c().call('StopContainer', { container_id: ctr, timeout: 0 });
      if (sc.setup === 'pod+stopped') await c().call('StopPodSandbox', { pod_sandbox_id: pod });
      const beforeCall = await snapshot(env.nori);

      const rpc = point.split('.')[0]!;
      const fatal: Record<string, () => Promise<unknown>> = {
        'run-pod': () => env.runPod('victim'),
        create: () => env.createCtr(pod, 'victim', 'app'),
        start: () => c().call('StartContainer', { container_id: ctr }),
        'stop-pod': () => c().call('StopPodSandbox', { pod_sandbox_id: pod }),
        'remove-pod': () => c().call('RemovePodSandbox', { pod_sandbox_id: pod }),
        'remove-container': () => c().call('RemoveContainer', { container_id: ctr }),
        'container-exit': () => c().call('StopContainer', { container_id: ctr, timeout: 0 }),
        pull: () => c().call('PullImage', { image: { image: pullImage } }),
      };
      await assert.rejects(fatal[rpc]!(), 'the call dies with the daemon');
      await env.died();
      await snapshot(env.nori); // what the dead daemon left (e.g. a pod init in its store), for the leak check
      await env.restart();
      await assertKeeper();
      if (sc.cleanAfterRestart) await assertNoLeaks(env.nori, { baseline: beforeCall });

      // ---- what kubelet does next
      switch (rpc) {
        case 'run-pod': {
          // A READY sandbox of the pod is adopted (kubelet lists by labels); otherwise it retries.
          const listed = (await c().call('ListPodSandbox', { filter: { label_selector: { app: 'victim' } } })).items;
          if (point === 'run-pod.after-ready-write') {
            assert.equal(listed.length, 1, 'the sandbox whose READY was written is listed');
            assert.equal(listed[0].state, 'SANDBOX_READY');
            pod = listed[0].id;
          } else {
            assert.deepEqual(listed, [], 'a half-made sandbox is rolled back at start-up');
            pod = await env.runPod('victim');
          }
          const st = await c().call('PodSandboxStatus', { pod_sandbox_id: pod });
          assert.equal(st.status.state, 'SANDBOX_READY');
          assert.ok(st.status.network.ip, 'the pod has an IP');
          ctr = await env.createCtr(pod, 'victim', 'app');
          await c().call('StartContainer', { container_id: ctr });
          assert.equal(await env.state(ctr), 'CONTAINER_RUNNING');
          await env.removePod(pod);
          break;
        }
        case 'create': {
          assert.deepEqual((await c().call('ListContainers', { filter: { pod_sandbox_id: pod } })).containers, []);
          ctr = await env.createCtr(pod, 'victim', 'app'); // same name and attempt: the name is free again
          await c().call('StartContainer', { container_id: ctr });
          assert.equal(await env.state(ctr), 'CONTAINER_RUNNING');
          await env.removePod(pod);
          break;
        }
        case 'start': {
          // runc started it before the crash: it runs, and recovery says so.
          assert.equal(await env.state(ctr), 'CONTAINER_RUNNING');
          await env.removePod(pod);
          break;
        }
        case 'stop-pod':
        case 'remove-pod': {
          await env.removePod(pod);
          const st = await c().call('PodSandboxStatus', { pod_sandbox_id: pod }).catch((e) => e);
          assert.equal(st.code, 5, 'NotFound after removal');
          break;
        }
        case 'container-exit': {
          // the exit was recorded before the crash; kubelet removes the container, then the pod
          assert.equal(await env.state(ctr), 'CONTAINER_EXITED');
          await c().call('RemoveContainer', { container_id: ctr });
          assert.deepEqual((await c().call('ListContainers', { filter: { pod_sandbox_id: pod } })).containers, []);
          await env.removePod(pod);
          break;
        }
        case 'remove-container': {
          await c().call('RemoveContainer', { container_id: ctr });
          assert.deepEqual((await c().call('ListContainers', { filter: { pod_sandbox_id: pod } })).containers, []);
          await env.removePod(pod);
          break;
        }
        case 'pull': {
          const { image_ref } = await c().call('PullImage', { image: { image: pullImage } });
          assert.equal(image_ref, fx.get('layers').imageId);
          const st = await c().call('ImageStatus', { image: { image: pullImage } });
          assert.equal(st.image.id, fx.get('layers').imageId);
          await c().call('RemoveImage', { image: { image: pullImage } });
          break;
        }
      }
      await assertKeeper();
      await assertNoLeaks(env.nori, { baseline });
    });
  }
});
