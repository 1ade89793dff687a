// Cold pull + unpack: nori (PullImage through CRI) against containerd (`ctr images pull`, which
// unpacks into its overlayfs snapshotter), both from the same local docker-registry, measured
// alternately. Each nori sample removes the image first (its layers go with it); each
// containerd sample uses a fresh namespace, so content and snapshots are fetched and unpacked
// again.
//
//   node dist/bench/pull.js [samples=3]
// Prints per-image medians and the ratio nori/containerd (target ≤ 0.6 for the big image).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startNori } from '../test/helpers/daemon';
import { pushFixtures, startRegistry, type FixtureName } from '../test/helpers/registry';

const run = promisify(execFile);
const IMAGES = (process.env.BENCH_IMAGES?.split(',') ?? ['big', 'busybox', 'web', 'layers']) as FixtureName[];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function startContainerd(dir: string): Promise<{ sock: string; proc: ChildProcess | undefined }> {
  const sock = join(dir, 'containerd.sock');
  const cfg = join(dir, 'config.toml');
  fs.writeFileSync(
    cfg,
    `version = 2\nroot = "${dir}/root"\nstate = "${dir}/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\naddress = "${sock}"\n[ttrpc]\naddress = "${sock}.ttrpc"\n`,
  );
  const proc = spawn('containerd', ['--config', cfg], { stdio: ['ignore', fs.openSync(join(dir, 'containerd.log'), 'a'), fs.openSync(join(dir, 'containerd.log'), 'a')] });
  for (let i = 0; i < 100; i++) {
    try {
      await run('ctr', ['-a', sock, 'version']);
      return { sock, proc };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('containerd did not start');
}

async function main(): Promise<void> {
  const samples = Number(process.argv[2] ?? 3);
  const reg = await startRegistry();
  const fx = await pushFixtures(reg, { names: IMAGES });
  const nori = await startNori({ extraArgs: ['--registries-conf', '/nonexistent', '--auth-file', '/nonexistent'] });
  let ctr: { sock: string; proc: ChildProcess | undefined } | undefined;
  const ctrDir = fs.mkdtempSync('/tmp/nori-bench-ctr-');
  const haveContainerd = await run('containerd', ['--version']).then(() => true, () => false);
  if (haveContainerd) ctr = await startContainerd(ctrDir);
  const results: Record<string, { nori: number[]; containerd: number[] }> = {};
  try {
    for (let s = 0; s < samples; s++) {
      for (const name of IMAGES) {
        const ref = fx.get(name).reference;
        const r = (results[name] ??= { nori: [], containerd: [] });
        await nori.client.call('RemoveImage', { image: { image: ref } });
        let t = process.hrtime.bigint();
        await nori.client.call('PullImage', { image: { image: ref } }, { deadlineMs: 600_000 });
        r.nori.push(Number(process.hrtime.bigint() - t) / 1e6);
        if (ctr) {
          t = process.hrtime.bigint();
          await run('ctr', ['-a', ctr.sock, '-n', `bench-${s}-${name}`, 'images', 'pull', '--plain-http', ref], { maxBuffer: 64 << 20 });
          r.containerd.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      }
    }
  } finally {
    await nori.cleanup();
    if (ctr?.proc) {
      ctr.proc.kill('SIGTERM');
      await new Promise((r) => ctr!.proc!.once('exit', r));
      // containerd leaves its overlay snapshots unmounted; removal is plain
      fs.rmSync(ctrDir, { recursive: true, force: true });
    }
    await reg.stop();
  }
  console.log(`cold pull+unpack, ${samples} samples each, alternating; median ms`);
  console.log('image          nori   containerd  ratio');
  for (const [name, r] of Object.entries(results)) {
    const n = median(r.nori);
    const c = r.containerd.length ? median(r.containerd) : NaN;
    console.log(`${name.padEnd(12)} ${n.toFixed(0).padStart(6)} ${Number.isNaN(c) ? '         -' : c.toFixed(0).padStart(12)}  ${Number.isNaN(c) ? '-' : (n / c).toFixed(2)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
