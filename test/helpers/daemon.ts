// Starts a real nori process (bin/nori) on a private socket, root, state and CNI conf dir, as the
// integration tests need: several of these run beside any other nori or containerd on the host.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criClient, type CriClient } from './cri-client';
import { scaled } from './slow';

export const REPO = join(__dirname, '..', '..', '..');
export const NORI_BIN = join(REPO, 'bin', 'nori');

export interface NoriProcess {
  dir: string;
  socket: string;
  root: string;
  state: string;
  cniConfDir: string;
  metricsPort: number;
  /** The command line it was started with (after the node binary). */
  args: string[];
  proc: ChildProcess;
  client: CriClient;
  /** Every log line the daemon wrote, parsed. */
  logs: Record<string, any>[];
  /** SIGTERM and wait; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Stops (if running) and removes the temp dirs. */
  cleanup(): Promise<void>;
}

export interface StartOptions {
  /** Reuse the dirs of an earlier daemon (a restart). */
  dir?: string;
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Flags for node itself, before the script (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
  /** Wait until the socket answers Version (default true). */
  waitReady?: boolean;
  timeoutMs?: number;
}

export async function startNori(opts: StartOptions = {}): Promise<NoriProcess> {
  const dir = opts.dir ?? mkdtempSync('/tmp/nt-');
  const socket = join(dir, 'nori.sock');
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const cniConfDir = join(dir, 'net.d');
  mkdirSync(cniConfDir, { recursive: true });
  const configFile = join(dir, 'nori.toml');
  writeFileSync(configFile, '# test daemon: flags carry everything\n');
  const args = [
    NORI_BIN,
    '--config', configFile,
    '--listen', `unix://${socket}`,
    '--root', root,
    '--state', state,
    '--cni-conf-dir', cniConfDir,
    '--metrics-listen', '127.0.0.1:0',
    '--streaming-listen', '127.0.0.1:0',
    '--log-level', 'debug',
    // CNI unless a test asks for the built-in network: a daemon on the defaults would share
    // bridge nori0 and 10.89.0.0/16 with every other test daemon on the host.
    ...(opts.extraArgs?.includes('--network') ? [] : ['--network', 'cni']),
    // test:vm runs the same suites once per cgroup driver (hack/vm/in-guest.sh).
    ...(process.env.NORI_TEST_CGROUP_DRIVER ? ['--cgroup-driver', process.env.NORI_TEST_CGROUP_DRIVER] : []),
    ...(opts.extraArgs ?? []),
  ];
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  const logs: Record<string, any>[] = [];
  let metricsPort = -1;
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        const rec = JSON.parse(line) as Record<string, any>;
        logs.push(rec);
        if (typeof rec.metricsPort === 'number') metricsPort = rec.metricsPort;
      } catch {
        logs.push({ raw: line });
      }
      if (process.env.NORI_TEST_LOGS) process.stderr.write(`[nori ${proc.pid}] ${line}\n`);
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));

  const client = criClient(socket);
  const n: NoriProcess = {
    dir, socket, root, state, cniConfDir, args, proc, client, logs,
    get metricsPort() {
      return metricsPort;
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      return exited;
    },
    async cleanup() {
      client.close();
      await n.stop('SIGKILL' === process.env.NORI_TEST_STOP ? 'SIGKILL' : 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.waitReady !== false) {
    const deadline = Date.now() + scaled(opts.timeoutMs ?? 30_000);
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`nori exited with ${proc.exitCode} during start-up: ${JSON.stringify(logs.slice(-5))}`);
      try {
        await client.call('Version', {}, { deadlineMs: 1000 });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`nori did not answer on ${socket}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  return n;
}

/** A conflist that the network module accepts (nothing runs it in the foundation tests). */
export function writeConflist(confDir: string, name = 'nori-test'): string {
  const file = join(confDir, `10-${name}.conflist`);
  writeFileSync(
    file,
    JSON.stringify({
      cniVersion: '1.0.0',
      name,
      plugins: [{ type: 'bridge', bridge: 'nt0', ipam: { type: 'host-local', ranges: [[{ subnet: '10.233.0.0/24' }]] } }],
    }),
  );
  return file;
}

/** Stops and removes every pod the daemon lists (test teardown), then stops it and removes its dirs. */
export async function removeAllPodsAndCleanup(nori: NoriProcess): Promise<void> {
  const pods = await nori.client.call('ListPodSandbox', {}).catch(() => ({ items: [] as { id: string }[] }));
  for (const p of pods.items) {
    await nori.client.call('StopPodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
    await nori.client.call('RemovePodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
  }
  await nori.cleanup();
}
