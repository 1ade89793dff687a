// The nori under test: bin/nori on private dirs (through the integration tests' startNori), at
// log level info so that logging costs what it costs in production.

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNori } from '../../test/helpers/daemon';
import { deleteLink, findOwnProcesses, linkExists, mountsUnder, unmountAll } from '../procs';
import { benchConflist, benchNet, type BenchRuntime, type RestartTimes } from './types';
import { timeToAnswer } from '../answer_probe';
import { tableName } from '../../src/network/bridge/nft-rules';

export const NORI_NET = benchNet('nori', 'nori-bench', 'nbench0', '10.213.0.0/16');

export async function startBenchNori(workDir: string, registryHost: string): Promise<BenchRuntime> {
  const dir = join(workDir, 'nori');
  mkdirSync(join(dir, 'net.d'), { recursive: true });
  const ipamDir = join(dir, 'ipam');
  // NORI_BENCH_NORI_NETWORK=builtin: nori on its own bridge network (same bridge name and subnet),
  // as the lab bench runs it; containerd stays on the CNI chain.
  const builtin = process.env.NORI_BENCH_NORI_NETWORK === 'builtin';
  const networkArgs = builtin ? ['--network', 'builtin', '--bridge', NORI_NET.bridge, '--pod-cidr', NORI_NET.subnet] : [];
  if (!builtin) writeFileSync(join(dir, 'net.d', `10-${NORI_NET.name}.conflist`), benchConflist(NORI_NET.name, NORI_NET.bridge, NORI_NET.subnet, ipamDir));
  // mirrors nothing; only lets the bench registry be plain HTTP
  const registriesConf = join(dir, 'registries.conf');
  writeFileSync(registriesConf, `unqualified-search-registries = []\n\n[[registry]]\nlocation = "${registryHost}"\ninsecure = true\n`);
  const logRoot = join(workDir, 'logs', 'nori');
  mkdirSync(logRoot, { recursive: true });
  // NORI_BENCH_NODE_ARGS: flags for the daemon's node only (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
  const nodeArgs = process.env.NORI_BENCH_NODE_ARGS?.split(' ').filter(Boolean);
  const start = (waitReady: boolean) =>
    startNori({ dir, extraArgs: ['--registries-conf', registriesConf, '--log-level', process.env.NORI_BENCH_LOG_LEVEL ?? 'info', ...networkArgs], timeoutMs: 60_000, nodeArgs, waitReady });
  let n = await start(true);
  return {
    name: 'nori',
    endpoint: `unix://${n.socket}`,
    client: n.client,
    pid: n.proc.pid!,
    logRoot,
    dataDir: n.root,
    metricsUrl: () => (n.metricsPort > 0 ? `http://127.0.0.1:${n.metricsPort}/metrics` : undefined),
    bridge: NORI_NET.bridge,
    monitorPids: () => findOwnProcesses('conmon', dir),
    logs: () => n.logs,
    async restart(this: BenchRuntime, how: 'kill' | 'term' = 'kill'): Promise<RestartTimes> {
      this.client.close();
      const s0 = process.hrtime.bigint();
      await n.stop(how === 'kill' ? 'SIGKILL' : 'SIGTERM');
      const stopMs = Number(process.hrtime.bigint() - s0) / 1e6;
      const t0 = process.hrtime.bigint();
      n = await start(false);
      this.client = n.client;
      this.pid = n.proc.pid!;
      return { stopMs, ...(await timeToAnswer(n.socket, t0)) };
    },
    async teardown() {
      const problems: string[] = [];
      n.client.close();
      const code = await n.stop('SIGTERM');
      if (code !== 0 && code !== null) problems.push(`nori exited with ${code}`);
      const stray = findOwnProcesses('conmon', dir);
      for (const pid of stray) {
        problems.push(`conmon ${pid} outlived nori; killed`);
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      const roots = [dir, logRoot];
      const mounts = mountsUnder(roots);
      if (mounts.length) problems.push(`nori left ${mounts.length} mount(s) under ${dir}; unmounted`);
      const failed = unmountAll(roots);
      if (failed.length) problems.push(`could not unmount: ${failed.join(', ')}`);
      if (linkExists(NORI_NET.bridge)) deleteLink(NORI_NET.bridge);
      // the built-in network's table outlives the daemon by design (a restart keeps pods reachable)
      if (builtin) spawnSync('nft', ['delete', 'table', 'inet', tableName(NORI_NET.bridge)], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
      rmSync(logRoot, { recursive: true, force: true });
      return problems;
    },
  };
}
