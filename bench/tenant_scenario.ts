// Issue 18's hostile tenant: one container holding a million files in its writable layer while
// kubelet-like callers run ListContainerStats and ImageFsInfo in a loop. Reported per runtime:
// the latency of Version, ContainerStatus and ListContainers (p50 and p99) with and without that
// container on the node, and ListContainerStats' own latency. Targets: p99 with the tenant within
// 1.2x of without; ListContainerStats p50 no more than containerd's.
// NORI_BENCH_TENANT_FILES sets the file count (default 1,000,000).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Msg } from '../test/helpers/cri-client';
import { removePod, runPod, startContainer, timed } from './cri';
import { describeError, type BenchContext, type Scenario } from './context';
import { percentile, type Row, type Series } from './stats';
import type { BenchRuntime, RuntimeName } from './runtimes/types';

const FOREGROUND = ['Version', 'ContainerStatus', 'ListContainers'] as const;
/** each phase lasts at least this long, so nori's background walks of the layer overlap it */
const MIN_PHASE_MS = 30_000;
const MIN_LOOP_CALLS = 5;
/** between one stats call and the next: a busy kubelet plus a metrics scraper, not a flood */
const LOOP_PAUSE_MS = 50;

interface Phase {
  fg: Record<string, number[]>;
  lcs: number[];
  fsInfo: number[];
  failures: string[];
}

async function phase(rt: BenchRuntime, probe: string, samples: number): Promise<Phase> {
  const out: Phase = { fg: Object.fromEntries(FOREGROUND.map((o) => [o, []])), lcs: [], fsInfo: [], failures: [] };
  let stop = false;
  // the kubelet side: each loop keeps at most one call outstanding
  const loop = async (rpc: string, into: number[]) => {
    while (!stop) {
      try {
        const [ms] = await timed(() => rt.client.call(rpc, {}, { deadlineMs: 600_000 }));
        into.push(ms);
      } catch (e) {
        out.failures.push(`${rpc}: ${describeError(e)}`);
      }
      await new Promise((r) => setTimeout(r, LOOP_PAUSE_MS));
    }
  };
  const loops = [loop('ListContainerStats', out.lcs), loop('ImageFsInfo', out.fsInfo)];
  const t0 = Date.now();
  for (let i = 0; i < samples || Date.now() - t0 < MIN_PHASE_MS || out.lcs.length < MIN_LOOP_CALLS; i++) {
    for (const op of FOREGROUND) {
      const req: Msg = op === 'ContainerStatus' ? { container_id: probe } : {};
      try {
        const [ms] = await timed(() => rt.client.call(op, req, { deadlineMs: 600_000 }));
        out.fg[op]!.push(ms);
      } catch (e) {
        out.failures.push(`${op}: ${describeError(e)}`);
      }
    }
    await new Promise((r) => setTimeout(r, 20)); // a probe's pace, not a flood
  }
  stop = true;
  await Promise.all(loops);
  return out;
}

/** The upper dir of the overlay mounted as the container's rootfs (both runtimes mount it on the host). */
function upperDirOf(id: string): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0 || f[sep + 1] !== 'overlay' || !f[4]?.includes(id)) continue;
    const upper = /(?:^|,)upperdir=([^,]+)/.exec(f[sep + 3] ?? '')?.[1];
    if (upper) return upper.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  }
  return undefined;
}

/**
 * The tenant's files, written straight into its upper dir from the host (what its own writes
 * would leave there), the same way for both runtimes; an in-container loop when no upper dir is
 * found.
 */
async function fill(rt: BenchRuntime, id: string, files: number): Promise<number> {
  const upper = upperDirOf(id);
  const [ms] = await timed(async () => {
    if (!upper) {
      await rt.client.call('ExecSync', { container_id: id, cmd: ['sh', '-c', `mkdir -p /many && cd /many && seq 1 ${files} | xargs touch`], timeout: 0 }, { deadlineMs: 3_600_000 });
      return;
    }
    const script = 'import os, sys\nd = sys.argv[1]\nos.makedirs(d, exist_ok=True)\nfor i in range(int(sys.argv[2])):\n    os.close(os.open(f"{d}/{i}", os.O_CREAT | os.O_WRONLY, 0o644))\n';
    await new Promise<void>((resolve, reject) => {
      const p = spawn('python3', ['-c', script, join(upper, 'many'), String(files)], { stdio: 'inherit' });
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`python3 exited ${code}`))));
    });
  });
  return ms;
}

export const tenantScenario: Scenario = {
  name: 'tenant',
  describe: 'a container with 1M files in its writable layer; Version/ContainerStatus/ListContainers p99 with vs without it, ListContainerStats p50',
  async run(ctx: BenchContext): Promise<Row[]> {
    const files = Number(process.env.NORI_BENCH_TENANT_FILES ?? 1_000_000);
    const samples = Math.max(ctx.n, 200);
    const result = new Map<RuntimeName, { base: Phase; loaded: Phase }>();
    const notes = new Map<RuntimeName, string>();
    for (const rt of ctx.runtimes) {
      let pod: { id: string; config: Msg } | undefined;
      try {
        pod = await runPod(rt, 'tenant');
        const probe = await startContainer(rt, pod, ctx.images.busybox.ref, 'probe');
        const base = await phase(rt, probe, samples);
        const tenant = await startContainer(rt, pod, ctx.images.busybox.ref, 'tenant');
        const fillMs = await fill(rt, tenant, files);
        ctx.log(`tenant: ${rt.name}: ${files} files made in ${(fillMs / 1000).toFixed(1)} s (${upperDirOf(tenant) ? 'in its upper dir, from the host' : 'by ExecSync'})`);
        const loaded = await phase(rt, probe, samples);
        result.set(rt.name, { base, loaded });
        for (const [name, p] of [['without', base], ['with', loaded]] as const) {
          const p99 = FOREGROUND.map((o) => `${o} ${percentile(p.fg[o]!, 0.99)?.toFixed(1)}`).join(', ');
          ctx.log(`tenant: ${rt.name} ${name} the tenant: p99 ms ${p99}; ListContainerStats n=${p.lcs.length} p50 ${percentile(p.lcs, 0.5)?.toFixed(1)}; failures ${p.failures.length}${p.failures.length ? ` (${p.failures[0]})` : ''}`);
        }
      } catch (e) {
        notes.set(rt.name, describeError(e));
        ctx.log(`tenant: ${rt.name}: ${describeError(e)}`);
      } finally {
        if (pod) await removePod(rt, pod.id).catch((e) => ctx.log(`tenant: ${rt.name} cleanup: ${describeError(e)}`));
      }
    }
    const series = (name: RuntimeName, pick: (r: { base: Phase; loaded: Phase }) => number[]): Series => {
      const r = result.get(name);
      return r ? { samples: pick(r) } : { samples: [], note: notes.get(name) ?? 'not run' };
    };
    const has = ctx.runtimes.some((r) => r.name === 'containerd');
    const row = (operation: string, pick: (r: { base: Phase; loaded: Phase }) => number[]): Row => ({
      scenario: 'tenant',
      operation,
      unit: 'ms',
      nori: series('nori', pick),
      containerd: has ? series('containerd', pick) : undefined,
    });
    const p99 = (xs: number[]) => [percentile(xs, 0.99) ?? NaN];
    const rows: Row[] = [];
    for (const op of FOREGROUND) {
      rows.push(row(`${op}, without the tenant`, (r) => r.base.fg[op]!));
      rows.push(row(`${op}, with the tenant`, (r) => r.loaded.fg[op]!));
      rows.push(row(`${op} p99, without the tenant`, (r) => p99(r.base.fg[op]!)));
      rows.push(row(`${op} p99, with the tenant`, (r) => p99(r.loaded.fg[op]!)));
    }
    rows.push(row('ListContainerStats, without the tenant', (r) => r.base.lcs));
    rows.push(row('ListContainerStats, with the tenant', (r) => r.loaded.lcs));
    rows.push(row('ImageFsInfo, with the tenant', (r) => r.loaded.fsInfo));
    rows.push(row('failed calls, with the tenant', (r) => [r.loaded.failures.length]));
    return rows;
  },
};
