// nori vs containerd, side by side: `npm run bench -- [--scenarios a,b] [--n 40] [--n-heavy 3]
// [--pods 100] [--store-pods 50] [--per-pod 100] [--json out.json] [--no-containerd] [--no-big] [--quiet-load L]`.
// See docs/performance.md.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { loadFixtures, pushFixtures, startRegistry, type PushedFixture, type TestRegistry } from '../test/helpers/registry';
import { createdIds, removeAllPods, removePod, runPod, startContainer } from './cri';
import { describeError, quietWaiter, type BenchContext, type BenchImage } from './context';
import { diff, phaseTable, scrape, type PhaseRow } from './phases';
import { stepTable } from './steps';
import { cgroupLeftovers, rssBytes } from './procs';
import { buildAndPushPause } from './pause-image';
import { containerdInstalled, startBenchContainerd } from './runtimes/containerd';
import { startBenchNori } from './runtimes/nori';
import type { BenchRuntime } from './runtimes/types';
import { removeFleets, SCENARIOS } from './scenarios';
import { statsScenario } from './stats_scenario';
import { usernsScenario } from './userns_scenario';
import { readsScenario } from './reads';
import { execCpuScenario } from './exec_cpu';
import { densityScenario } from './density';
import { tenantScenario } from './tenant_scenario';
import { restartStoreScenario } from './restart_scenario';

SCENARIOS.push(statsScenario, readsScenario, execCpuScenario, densityScenario, tenantScenario, usernsScenario, restartStoreScenario);
/** run only when named: tenant fills a layer with a million files, restart-5k makes 5,000 containers */
const ONLY_WHEN_NAMED = ['tenant', 'restart-5k'];
import { jsonRows, table, type Row } from './stats';

interface Options {
  scenarios: string[];
  n: number;
  nHeavy: number;
  pods: number;
  storePods: number;
  perPod: number;
  json?: string;
  containerd: boolean;
  big: boolean;
  quietLoad?: number;
}

const USAGE = `usage: npm run bench -- [--scenarios ${SCENARIOS.map((s) => s.name).join(',')}] [--n 40] [--n-heavy 3]
                        [--pods 100] [--store-pods 50] [--per-pod 100] [--json out.json] [--no-containerd] [--no-big]
                        [--quiet-load L]  (restart-5k: time the restarts only once the 1-min load average < L)
${SCENARIOS.map((s) => `  ${s.name.padEnd(14)}${s.describe}`).join('\n')}`;

function parseArgs(argv: string[]): Options {
  const defaults = SCENARIOS.filter((s) => !ONLY_WHEN_NAMED.includes(s.name)).map((s) => s.name);
  const o: Options = { scenarios: defaults, n: 40, nHeavy: 3, pods: 100, storePods: 50, perPod: 100, containerd: true, big: true };
  const int = (v: string | undefined, flag: string) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < 1) throw new Error(`${flag} needs a positive integer, got ${v}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--scenarios': {
        const list = value()!.split(',').filter(Boolean);
        for (const s of list) if (!SCENARIOS.some((x) => x.name === s)) throw new Error(`unknown scenario ${s}\n${USAGE}`);
        o.scenarios = list;
        break;
      }
      case '--n': o.n = int(value(), '--n'); break;
      case '--n-heavy': o.nHeavy = int(value(), '--n-heavy'); break;
      case '--pods': o.pods = int(value(), '--pods'); break;
      case '--store-pods': o.storePods = int(value(), '--store-pods'); break;
      case '--per-pod': o.perPod = int(value(), '--per-pod'); break;
      case '--json': o.json = value(); break;
      case '--no-containerd': o.containerd = false; break;
      case '--no-big': o.big = false; break;
      case '--quiet-load': {
        const v = Number(value());
        if (!(v > 0)) throw new Error('--quiet-load needs a positive load average');
        o.quietLoad = v;
        break;
      }
      case '--help': case '-h': console.log(USAGE); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  return o;
}

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function benchImage(f: PushedFixture, label: string): BenchImage {
  const chainIds: string[] = [];
  for (const l of f.layers) {
    const prev = chainIds[chainIds.length - 1];
    chainIds.push(prev ? `sha256:${createHash('sha256').update(`${prev} ${l.diffId}`).digest('hex')}` : l.diffId);
  }
  return { ref: f.reference, label, chainIds, digests: [f.manifestDigest, f.imageId, ...f.layers.map((l) => l.digest)] };
}

function machine(): Record<string, string | number> {
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: sh('uname', ['-r']),
    node: process.version,
    containerd: sh('containerd', ['--version']),
    runc: sh('runc', ['--version']).split('\n')[0] ?? 'unknown',
    conmon: sh('conmon', ['--version']).split('\n')[0] ?? 'unknown',
  };
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('the benchmark runs runtimes: run it as root');
  const withCtrd = opts.containerd && containerdInstalled();
  if (opts.containerd && !withCtrd) log('containerd not installed (/usr/bin/containerd): nori only');
  const wantBig = opts.big && opts.scenarios.includes('pull');
  const workDir = mkdtempSync('/tmp/nori-bench-');
  const runtimes: BenchRuntime[] = [];
  let reg: TestRegistry | undefined;
  const problems: string[] = [];
  let tearingDown: Promise<void> | undefined;
  const teardown = () =>
    (tearingDown ??= (async () => {
      log('teardown');
      for (const rt of runtimes) {
        try {
          const left = await removeAllPods(rt);
          if (left) log(`${rt.name}: removed ${left} pod(s) left by a failed step`);
        } catch (e) {
          problems.push(`${rt.name}: removing pods: ${describeError(e)}`);
        }
        const t0 = Date.now();
        problems.push(...(await rt.teardown()).map((p) => `${rt.name}: ${p}`));
        log(`${rt.name} stopped and removed in ${Date.now() - t0} ms`);
      }
      await reg?.stop();
      rmSync(workDir, { recursive: true, force: true });
      for (const cg of cgroupLeftovers(createdIds)) problems.push(`cgroup left behind: ${cg}`);
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: tearing down`);
    void teardown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const rows: Row[] = [];
  const phases: Record<string, PhaseRow[]> = {};
  const started = new Date();
  try {
    log(`fixtures${wantBig ? ' (with the ~200 MB image; built once, cached)' : ''}`);
    loadFixtures({ big: wantBig });
    reg = await startRegistry({ logLevel: 'warn' });
    const fx = await pushFixtures(reg, { names: wantBig ? ['busybox', 'big'] : ['busybox'] });
    const images = {
      busybox: benchImage(fx.get('busybox'), 'busybox (1.4 MB, 1 layer)'),
      big: wantBig ? benchImage(fx.get('big'), `big (${Math.round(fx.get('big').layersSize / 1e6)} MB, ${fx.get('big').layers.length} layers)`) : undefined,
    };
    log(`registry ${reg.host}; nori starting`);
    runtimes.push(await startBenchNori(workDir, reg.host));
    let ctr: BenchContext['ctr'];
    if (withCtrd) {
      const pause = await buildAndPushPause(reg, workDir);
      log(`containerd starting (sandbox image ${pause})`);
      const c = await startBenchContainerd(workDir, reg.host, pause);
      runtimes.push(c);
      ctr = c.ctr;
      await c.client.call('PullImage', { image: { image: pause } });
    }
    const ctx: BenchContext = { runtimes, n: opts.n, nHeavy: opts.nHeavy, fleetPods: opts.pods, store: { pods: opts.storePods, perPod: opts.perPod }, images, ctr, fleets: new Map(), idleRss: new Map(), untilQuiet: quietWaiter(opts.quietLoad, log), log };
    // warm-up, not measured: the image in place, one pod + container cycle
    for (const rt of runtimes) {
      try {
        await rt.client.call('PullImage', { image: { image: images.busybox.ref } });
        const pod = await runPod(rt, 'warm');
        await startContainer(rt, pod, images.busybox.ref);
        await removePod(rt, pod.id);
      } catch (e) {
        log(`warm-up: ${rt.name}: ${describeError(e)}`);
      }
    }
    // idle memory now, before any scenario leaves pods (or a high-water mark) behind
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 200));
      for (const rt of runtimes) {
        const v = rssBytes(rt.pid);
        if (v !== undefined) ctx.idleRss.set(rt.name, [...(ctx.idleRss.get(rt.name) ?? []), v]);
      }
    }
    for (const name of opts.scenarios) {
      const sc = SCENARIOS.find((s) => s.name === name)!;
      log(`scenario ${name}: ${sc.describe}`);
      const noriRt = runtimes.find((rt) => rt.name === 'nori');
      const before = await scrape(noriRt?.metricsUrl?.());
      const r = await sc.run(ctx);
      const ph = diff(before, await scrape(noriRt?.metricsUrl?.()));
      rows.push(...r);
      phases[name] = ph;
      console.log(`\n### ${name}\n${sc.describe}\n\n${table(r, withCtrd)}`);
      if (ph.length) console.log(`\nnori's own histograms over this scenario (server side):\n${phaseTable(ph)}`);
    }
    await removeFleets(ctx);
    const noriLogs = runtimes.find((rt) => rt.name === 'nori')?.logs?.();
    const steps = noriLogs ? stepTable(noriLogs) : '';
    if (steps) console.log(`\n### where nori's time goes (steps its log records, whole run)\n\n${steps}`);
  } finally {
    await teardown();
  }
  const m = machine();
  if (opts.json) {
    writeFileSync(
      opts.json,
      JSON.stringify({ started: started.toISOString(), options: opts, machine: m, rows: jsonRows(rows), noriPhases: phases, cleanupProblems: problems }, null, 1),
    );
    log(`JSON: ${opts.json}`);
  }
  console.log(`\nmachine: ${m.cpus} x ${m.cpuModel}, ${m.memGiB} GiB, kernel ${m.kernel}, node ${m.node}; ${m.containerd}; ${m.runc}; ${m.conmon}`);
  if (problems.length) {
    console.log(`cleanup problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return 1;
  }
  log('clean: both runtimes stopped, their dirs, mounts and bridges removed');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench failed: ${(e as Error).stack ?? e}`);
    process.exit(2);
  },
);
