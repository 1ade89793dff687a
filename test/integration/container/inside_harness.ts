// Shared set-up of the inside*.test.ts files: a real bin/nori with the fixture images pulled from
// a loopback registry, pods on a loopback-only CNI network (no bridge, nothing on the host's
// links), and helpers that run a container and return what it printed, so each test checks the
// container's view from inside.

import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startNori, removeAllPodsAndCleanup, type NoriProcess } from '../../helpers/daemon';
import type { Msg } from '../../helpers/cri-client';
import { pushFixtures, startRegistry, type FixtureName, type PushedFixtures, type TestRegistry } from '../../helpers/registry';
import { until } from '../../helpers/until';

const CRI_LINE = /^\S+ (stdout|stderr) (P|F) (.*)$/;
const PLUGINS = '/usr/lib/cni';

export interface PodOptions {
  network?: 'POD' | 'NODE';
  pid?: 'POD' | 'CONTAINER' | 'NODE';
  ipc?: 'POD' | 'NODE';
  privileged?: boolean;
  sysctls?: Record<string, string>;
  hostname?: string;
  dns?: { servers?: string[]; searches?: string[]; options?: string[] };
  /** RunPodSandbox's runtime_handler ('' = the default) */
  handler?: string;
  name?: string;
  /** userns_options of the pod (e.g. mode POD with uids/gids), merged into namespace_options */
  userns?: Msg;
}

export interface Pod {
  id: string;
  config: Msg;
  logDir: string;
}

export interface RunResult {
  id: string;
  exitCode: number;
  /** stdout and stderr lines, in the order conmon logged them */
  out: string;
  status: Msg;
}

export interface Inside {
  nori: NoriProcess;
  fx: PushedFixtures;
  dir: string;
  /** --cgroup-root-prefix of the daemon: pods' cgroups are /<prefix>/pod<id> */
  cgroupPrefix: string;
  image(name?: FixtureName): string;
  pod(opts?: PodOptions): Promise<Pod>;
  /** CreateContainer; `cfg` is merged over a busybox `sh -c script` config. */
  create(pod: Pod, name: string, script: string, cfg?: Msg): Promise<string>;
  /** Create, start, wait for the exit; the log as text. */
  run(pod: Pod, name: string, script: string, cfg?: Msg): Promise<RunResult>;
  /** Create and start a container that sleeps until stopped. */
  runLong(pod: Pod, name: string, cfg?: Msg, script?: string): Promise<string>;
  exec(id: string, cmd: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  logText(pod: Pod, name: string): string;
  waitLog(pod: Pod, name: string, re: RegExp, ms?: number): Promise<string>;
  /** kill -9 of the daemon and a new one on the same dirs and flags (inside.nori is the new one). */
  crashAndRestart(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Reads a CRI-format log, joining partial (P) lines. */
export function readCriLog(path: string): string {
  if (!existsSync(path)) return '';
  const out: string[] = [];
  let partial = '';
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    const m = CRI_LINE.exec(line);
    assert.ok(m, `not a CRI log line: ${line}`);
    partial += m[3];
    if (m[2] === 'F') {
      out.push(partial);
      partial = '';
    }
  }
  if (partial) out.push(partial);
  return out.join('\n');
}

export async function startInside(names: FixtureName[] = ['busybox'], extraArgs: string[] = []): Promise<Inside> {
  const suffix = randomBytes(3).toString('hex');
  const cgroupPrefix = `nori-inside-${suffix}`;
  const reg: TestRegistry = await startRegistry();
  let nori: NoriProcess | undefined;
  try {
    const fx = await pushFixtures(reg, { names });
    const daemonArgs = [
      '--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json',
      '--cni-bin-dir', PLUGINS, '--cgroup-root-prefix', cgroupPrefix, ...extraArgs,
    ];
    nori = await startNori({ extraArgs: daemonArgs });
    writeFileSync(join(nori.cniConfDir, '10-inside.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: `nori-inside-${suffix}`, plugins: [{ type: 'loopback' }],
    }));
    for (const n of names) await nori.client.call('PullImage', { image: { image: fx.get(n).reference } });
    return makeInside(reg, fx, nori, cgroupPrefix, daemonArgs);
  } catch (e) {
    if (nori) await nori.cleanup();
    await reg.stop();
    throw e;
  }
}

function makeInside(reg: TestRegistry, fx: PushedFixtures, first: NoriProcess, cgroupPrefix: string, daemonArgs: string[]): Inside {
  let nori = first;
  const dir = mkdtempSync('/tmp/nori-inside-');
  const c = () => nori.client;
  let pods = 0;
  const podConfigs = new Map<string, Msg>();

  const containerConfig = (name: string, script: string, cfg: Msg = {}): Msg => ({
    metadata: { name },
    image: { image: fx.get('busybox').reference },
    command: ['sh', '-c', script],
    log_path: `${name}.log`,
    ...cfg,
  });

  const inside: Inside = {
    nori,
    fx,
    dir,
    cgroupPrefix,
    image: (name = 'busybox') => fx.get(name).reference,
    async pod(opts = {}) {
      const n = opts.name ?? `p${++pods}`;
      const logDir = join(dir, n);
      const config: Msg = {
        metadata: { name: n, namespace: 'inside', uid: `uid-${n}`, attempt: 0 },
        hostname: opts.hostname ?? `host-${n}`,
        log_directory: logDir,
        ...(opts.dns ? { dns_config: opts.dns } : {}),
        linux: {
          sysctls: opts.sysctls ?? {},
          security_context: {
            privileged: opts.privileged ?? false,
            namespace_options: {
              network: opts.network ?? 'POD', pid: opts.pid ?? 'CONTAINER', ipc: opts.ipc ?? 'POD',
              ...(opts.userns ? { userns_options: opts.userns } : {}),
            },
          },
        },
      };
      const { pod_sandbox_id: id } = await c().call('RunPodSandbox', { config, runtime_handler: opts.handler ?? '' });
      podConfigs.set(id, config);
      return { id, config, logDir };
    },
    async create(pod, name, script, cfg) {
      const { container_id } = await c().call('CreateContainer', {
        pod_sandbox_id: pod.id, sandbox_config: pod.config, config: containerConfig(name, script, cfg),
      });
      return container_id as string;
    },
    async run(pod, name, script, cfg) {
      const id = await inside.create(pod, name, script, cfg);
      await c().call('StartContainer', { container_id: id });
      let status: Msg = {};
      await until(`${name} to exit`, async () => {
        status = (await c().call('ContainerStatus', { container_id: id })).status;
        return status.state === 'CONTAINER_EXITED';
      }, 30_000);
      return { id, exitCode: status.exit_code as number, out: readCriLog(join(pod.logDir, `${name}.log`)), status };
    },
    async runLong(pod, name, cfg, script = 'echo ready; while true; do sleep 1; done') {
      const id = await inside.create(pod, name, script, cfg);
      await c().call('StartContainer', { container_id: id });
      await inside.waitLog(pod, name, /ready/);
      return id;
    },
    async exec(id, cmd) {
      const r = await c().call('ExecSync', { container_id: id, cmd, timeout: 20 });
      return { stdout: Buffer.from(r.stdout).toString(), stderr: Buffer.from(r.stderr).toString(), exitCode: r.exit_code as number };
    },
    logText: (pod, name) => readCriLog(join(pod.logDir, `${name}.log`)),
    async waitLog(pod, name, re, ms = 15_000) {
      let text = '';
      await until(`${re} in ${name}'s log`, () => re.test((text = inside.logText(pod, name))), ms);
      return text;
    },
    async crashAndRestart() {
      nori.client.close();
      await nori.stop('SIGKILL');
      nori = await startNori({ dir: nori.dir, extraArgs: daemonArgs });
      inside.nori = nori;
    },
    async cleanup() {
      await removeAllPodsAndCleanup(nori);
      await reg.stop();
      rmSync(dir, { recursive: true, force: true });
      for (const h of readdirSync('/sys/fs/cgroup')) {
        const p = join('/sys/fs/cgroup', h, cgroupPrefix);
        if (!existsSync(p)) continue;
        for (const sub of readdirSync(p, { withFileTypes: true })) {
          if (sub.isDirectory()) {
            try {
              rmdirSync(join(p, sub.name));
            } catch {
              /* still busy */
            }
          }
        }
        try {
          rmdirSync(p);
        } catch {
          /* still busy */
        }
      }
    },
  };
  return inside;
}
