// Churn soak (issue 8): `node dist/bench/soak.js [--lifecycles 500] [--concurrency 10]
// [--warmup 20] [--json out.json]`. A private nori (own dirs, network, cgroup prefix) runs N pod
// lifecycles, C at a time: RunPodSandbox, create + start 2 containers, ExecSync, StopPodSandbox,
// RemovePodSandbox. Then: no leak (test/helpers/leaks.ts against the post-warm-up snapshot),
// daemon RSS back within 20 % of its post-warm-up start, open fds back to the start count, no
// zombie child of nori or of its conmons. Prints a table and JSON; exits 1 when a check fails.
// See docs/reliability.md.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeAllPodsAndCleanup, startNori, type NoriProcess } from '../test/helpers/daemon';
import { findLeaks, snapshot, type Snapshot } from '../test/helpers/leaks';
import { loadFixtures, pushFixtures, startRegistry, type TestRegistry } from '../test/helpers/registry';
import { containerConfig, inBatches, podConfig } from './cri';
import { allPids, comm, deleteLink, findOwnProcesses, mountsUnder, parentPid, rssBytes, unmountAll } from './procs';
import { benchConflist, type BenchRuntime } from './runtimes/types';
import { percentile } from './stats';

interface Options {
  lifecycles: number;
  concurrency: number;
  warmup: number;
  json?: string;
}

const NET = { name: 'nori-soak', bridge: 'nsoak0', subnet: '10.217.0.0/16' };
const OPS = ['RunPodSandbox', 'CreateContainer', 'StartContainer', 'ExecSync', 'StopPodSandbox', 'RemovePodSandbox', 'lifecycle'] as const;
type Op = (typeof OPS)[number];
const MiB = 2 ** 20;

const log = (msg: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv: string[]): Options {
  const o: Options = { lifecycles: 500, concurrency: 10, warmup: 20 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.includes('=') ? argv[i]!.split('=', 2) : [argv[i]!, undefined];
    const v = () => inline ?? argv[++i];
    const int = () => {
      const x = Number(v());
      if (!Number.isInteger(x) || x < 1) throw new Error(`${flag} needs a positive integer`);
      return x;
    };
    if (flag === '--lifecycles') o.lifecycles = int();
    else if (flag === '--concurrency') o.concurrency = int();
    else if (flag === '--warmup') o.warmup = int();
    else if (flag === '--json') o.json = v();
    else throw new Error(`unknown argument ${flag}\nusage: node dist/bench/soak.js [--lifecycles 500] [--concurrency 10] [--warmup 20] [--json out.json]`);
  }
  return o;
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Zombies whose parent is nori or one of its conmons. */
function zombies(noriPid: number, dir: string): string[] {
  const parents = new Set([noriPid, ...findOwnProcesses('conmon', dir)]);
  const out: string[] = [];
  for (const pid of allPids()) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z') continue;
      const pp = parentPid(pid);
      if (pp !== undefined && parents.has(pp)) out.push(`${pid} ${comm(pid)} (parent ${pp} ${comm(pp)})`);
    } catch {
      // gone
    }
  }
  return out;
}

/** V8's used heap, from the daemon's own /metrics (tells a JS-heap leak from RSS the allocator keeps). */
async function heapUsed(nori: NoriProcess): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${nori.metricsPort}/metrics`)).text();
    const m = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Median of `n` RSS readings `gapMs` apart (one reading catches Node mid-allocation). */
async function settledRss(pid: number, n = 5, gapMs = 1000): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    xs.push(rssBytes(pid) ?? NaN);
    if (i < n - 1) await sleep(gapMs);
  }
  return percentile(xs, 0.5)!;
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('the soak runs containers: run it as root');
  const workDir = mkdtempSync('/tmp/nori-soak-');
  const dir = join(workDir, 'nori');
  const logRoot = join(workDir, 'logs');
  mkdirSync(join(dir, 'net.d'), { recursive: true });
  mkdirSync(logRoot, { recursive: true });
  writeFileSync(join(dir, 'net.d', `10-${NET.name}.conflist`), benchConflist(NET.name, NET.bridge, NET.subnet, join(dir, 'ipam')));
  const cgroupPrefix = `nori-soak-${process.pid}`;
  let reg: TestRegistry | undefined;
  let nori: NoriProcess | undefined;
  const started = new Date();
  const samples = new Map<Op, number[]>(OPS.map((op) => [op, []]));
  const errors: string[] = [];
  try {
    loadFixtures();
    reg = await startRegistry({ logLevel: 'warn' });
    const fx = await pushFixtures(reg, { names: ['busybox'] });
    const image = fx.get('busybox').reference;
    const registriesConf = join(dir, 'registries.conf');
    writeFileSync(registriesConf, `unqualified-search-registries = []\n\n[[registry]]\nlocation = "${reg.host}"\ninsecure = true\n`);
    nori = await startNori({
      dir,
      extraArgs: ['--registries-conf', registriesConf, '--log-level', 'info', '--cgroup-root-prefix', cgroupPrefix, '--cni-bin-dir', '/usr/lib/cni'],
      timeoutMs: 60_000,
    });
    const pid = nori.proc.pid!;
    const rt = { client: nori.client, logRoot } as BenchRuntime;
    await nori.client.call('PullImage', { image: { image } });

    const timed = async <T>(op: Op, fn: () => Promise<T>): Promise<T> => {
      const t0 = process.hrtime.bigint();
      const r = await fn();
      samples.get(op)!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      return r;
    };
    const c = nori.client;
    const lifecycle = async (i: number) => {
      const t0 = process.hrtime.bigint();
      const config = podConfig(rt, 'soak');
      const pod = (await timed('RunPodSandbox', () => c.call('RunPodSandbox', { config }))).pod_sandbox_id as string;
      try {
        const ids: string[] = [];
        for (const name of ['a', 'b']) {
          const id = (await timed('CreateContainer', () => c.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig(image, name), sandbox_config: config })))
            .container_id as string;
          await timed('StartContainer', () => c.call('StartContainer', { container_id: id }));
          ids.push(id);
        }
        const ex = await timed('ExecSync', () => c.call('ExecSync', { container_id: ids[Math.abs(i) % 2], cmd: ['echo', `soak-${i}`], timeout: 60 }));
        if (Buffer.from(ex.stdout).toString().trim() !== `soak-${i}` || ex.exit_code !== 0) throw new Error(`ExecSync gave ${JSON.stringify(ex)}`);
      } finally {
        await timed('StopPodSandbox', () => c.call('StopPodSandbox', { pod_sandbox_id: pod }));
        await timed('RemovePodSandbox', () => c.call('RemovePodSandbox', { pod_sandbox_id: pod }));
      }
      samples.get('lifecycle')!.push(Number(process.hrtime.bigint() - t0) / 1e6);
    };
    const churn = async (n: number, offset: number, every?: (done: number) => void) => {
      let done = 0;
      await inBatches(Array.from({ length: n }, (_, i) => i + offset), o.concurrency, async (i) => {
        try {
          await lifecycle(i);
        } catch (e) {
          errors.push(`lifecycle ${i}: ${(e as Error).message.split('\n')[0]}`);
          if (errors.length <= 20) log(`lifecycle ${i} failed: ${errors[errors.length - 1]}`);
        }
        every?.(++done);
      });
    };

    log(`warm-up: ${o.warmup} lifecycles`);
    await churn(o.warmup, -o.warmup);
    for (const s of samples.values()) s.length = 0;
    errors.length = 0;
    await sleep(10_000);
    const rss0 = await settledRss(pid);
    const fd0 = fdCount(pid);
    const heap0 = await heapUsed(nori);
    const scope = { dir, root: nori.root, state: nori.state, cniConfDir: nori.cniConfDir, cgroupPrefix, daemonPid: pid };
    const base: Snapshot = await snapshot(scope);
    log(`start: RSS ${(rss0 / MiB).toFixed(1)} MiB, ${fd0} fds; ${o.lifecycles} lifecycles, ${o.concurrency} at a time`);

    const t0 = Date.now();
    let peakRss = rss0;
    let peakFds = fd0;
    const midZombies = new Set<string>();
    await churn(o.lifecycles, 0, (done) => {
      peakRss = Math.max(peakRss, rssBytes(pid) ?? 0);
      peakFds = Math.max(peakFds, fdCount(pid));
      if (done % 25 === 0) {
        for (const z of zombies(pid, dir)) midZombies.add(z);
        log(`${done}/${o.lifecycles} (${errors.length} failed), RSS ${((rssBytes(pid) ?? 0) / MiB).toFixed(1)} MiB, ${fdCount(pid)} fds`);
      }
    });
    const churnS = (Date.now() - t0) / 1000;

    // settle: Node frees its heap lazily; give it up to a minute to come back
    let rss1 = NaN;
    let fd1 = NaN;
    const settleEnd = Date.now() + 60_000;
    do {
      await sleep(5000);
      rss1 = await settledRss(pid);
      fd1 = fdCount(pid);
    } while ((rss1 > rss0 * 1.2 || fd1 > fd0) && Date.now() < settleEnd);
    const heap1 = await heapUsed(nori);
    const left = await findLeaks(scope, { baseline: base });
    const z = zombies(pid, dir);
    // the prefix is this daemon's alone: with no pod left it must be gone from every hierarchy
    const prefixLeft = readdirSync('/sys/fs/cgroup').filter((h) => existsSync(join('/sys/fs/cgroup', h, cgroupPrefix)));
    const pods = ((await c.call('ListPodSandbox', {})).items as unknown[]).length;
    const ctrs = ((await c.call('ListContainers', {})).containers as unknown[]).length;

    const checks = [
      { check: 'lifecycles failed', value: `${errors.length} of ${o.lifecycles}`, ok: errors.length === 0 },
      { check: 'pods / containers listed after', value: `${pods} / ${ctrs}`, ok: pods === 0 && ctrs === 0 },
      { check: 'leaks (vs post-warm-up snapshot)', value: Object.keys(left).length ? JSON.stringify(left) : 'none', ok: Object.keys(left).length === 0 },
      { check: `cgroup prefix /${cgroupPrefix} gone`, value: prefixLeft.length ? `left in ${prefixLeft.join(', ')}` : 'yes', ok: prefixLeft.length === 0 },
      { check: 'daemon RSS start → peak → end (MiB)', value: `${(rss0 / MiB).toFixed(1)} → ${(peakRss / MiB).toFixed(1)} → ${(rss1 / MiB).toFixed(1)} (${(((rss1 - rss0) / rss0) * 100).toFixed(1)} %)`, ok: rss1 <= rss0 * 1.2 },
      { check: 'V8 heap used start → end (MiB, information)', value: `${(heap0 / MiB).toFixed(1)} → ${(heap1 / MiB).toFixed(1)}`, ok: true },
      { check: 'daemon open fds start → peak → end', value: `${fd0} → ${peakFds} → ${fd1}`, ok: fd1 <= fd0 },
      { check: 'zombies (children of nori or its conmons) at end', value: z.length ? z.join('; ') : 'none', ok: z.length === 0 },
      { check: 'zombies seen at the 25-lifecycle samples', value: midZombies.size ? [...midZombies].join('; ') : 'none', ok: true },
    ];
    const opRows = OPS.map((op) => {
      const s = samples.get(op)!;
      return { op, n: s.length, p50: percentile(s, 0.5), p90: percentile(s, 0.9), p99: percentile(s, 0.99), max: percentile(s, 1) };
    });
    const f = (x: number | undefined) => (x === undefined ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
    console.log(`\n### soak: ${o.lifecycles} pod lifecycles, ${o.concurrency} concurrent, ${churnS.toFixed(0)} s (${(o.lifecycles / churnS).toFixed(2)} pods/s)\n`);
    console.log('| operation | n | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|---|');
    for (const r of opRows) console.log(`| ${r.op} | ${r.n} | ${f(r.p50)} | ${f(r.p90)} | ${f(r.p99)} | ${f(r.max)} |`);
    console.log('\n| check | value | ok |\n|---|---|---|');
    for (const ch of checks) console.log(`| ${ch.check} | ${ch.value} | ${ch.ok ? 'yes' : 'NO'} |`);
    if (errors.length) console.log(`\nfailures (first 10):\n${errors.slice(0, 10).map((e) => `  - ${e}`).join('\n')}`);
    const json = { started: started.toISOString(), options: o, churnSeconds: churnS, ops: opRows, checks, rss: { start: rss0, peak: peakRss, end: rss1 }, heapUsed: { start: heap0, end: heap1 }, fds: { start: fd0, peak: peakFds, end: fd1 }, errors };
    console.log(`\n${JSON.stringify(json)}`);
    if (o.json) writeFileSync(o.json, JSON.stringify(json, null, 1));
    return checks.every((ch) => ch.ok) ? 0 : 1;
  } finally {
    log('teardown');
    if (nori) await removeAllPodsAndCleanup(nori).catch((e) => log(`teardown: ${(e as Error).message}`));
    for (const p of findOwnProcesses('conmon', dir)) {
      log(`conmon ${p} outlived nori; killed`);
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (mountsUnder([dir, logRoot]).length) unmountAll([dir, logRoot]);
    deleteLink(NET.bridge);
    await reg?.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`soak failed: ${(e as Error).stack ?? e}`);
    process.exit(2);
  },
);
