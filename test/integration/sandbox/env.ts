// A private sandbox environment for the integration tests: a temp root/state, a conflist with a
// unique network name, bridge, subnet and host-local dataDir, a unique cgroup prefix, and a
// SandboxService on a real store and the native Sys. cleanup() removes exactly those.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { defaultConfig, finishConfig, type Config } from '../../../src/config';
import { RunPodSandboxRequest, type PodSandboxConfig } from '../../../src/gen/api';
import { silentLogger } from '../../../src/log';
import { SandboxService } from '../../../src/sandbox/service';
import { openDb, type Db } from '../../../src/store/db';
import { getSys } from '../../../src/sys';

const run = promisify(execFile);
export const PLUGINS = '/usr/lib/cni';

export async function sh(cmd: string, args: string[], opts: { input?: string } = {}): Promise<string> {
  return (await run(cmd, args, { timeout: 20_000, ...opts })).stdout;
}

export async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  return sh(cmd, args).then(
    () => true,
    () => false,
  );
}

export interface SandboxEnv {
  dir: string;
  config: Config;
  db: Db;
  service: SandboxService;
  netName: string;
  bridge: string;
  subnetPrefix: string;
  dataDir: string;
  cgroupPrefix: string;
  /** A service on the same dirs and store, as after a daemon restart. */
  restart(): Promise<SandboxService>;
  writeConflist(extraPlugins?: object[]): Promise<void>;
  cleanup(): Promise<void>;
}

async function freeSubnetPrefix(): Promise<string> {
  const used = (await sh('ip', ['-4', 'addr'])) + (await sh('ip', ['-4', 'route']));
  for (let i = 0; i < 50; i++) {
    const x = 1 + Math.floor(Math.random() * 254);
    if (!used.includes(`10.232.${x}.`)) return `10.232.${x}.`;
  }
  throw new Error('no free 10.232.x.0/24 subnet');
}

/** rmdir of a cgroup dir and its children, retried while a just-killed process is reaped. */
async function removeCgroupTree(dir: string, deadline = Date.now() + 5_000): Promise<void> {
  const kids = (await fs.readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory());
  for (const k of kids) await removeCgroupTree(path.join(dir, k.name), deadline);
  for (;;) {
    try {
      await fs.rmdir(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY' || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function sandboxEnv(): Promise<SandboxEnv> {
  const suffix = randomBytes(3).toString('hex');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nori-sb-it-'));
  const subnetPrefix = await freeSubnetPrefix();
  const netName = `nori-sbtest-${suffix}`;
  const bridge = `nsb${suffix}`;
  const dataDir = path.join(dir, 'ipam');
  const cgroupPrefix = `nori-sbtest-${suffix}`;
  const config = defaultConfig();
  config.root = path.join(dir, 'root');
  config.state = path.join(dir, 'state');
  config.cniConfDir = path.join(dir, 'net.d');
  config.cniBinDirs = [PLUGINS, path.join(dir, 'bin')];
  config.cgroupRootPrefix = cgroupPrefix;
  finishConfig(config);
  await fs.mkdir(config.cniConfDir, { recursive: true });
  await fs.mkdir(path.join(dir, 'bin'));
  const dbs: Db[] = [];
  const open = () => {
    const db = openDb(config.root);
    dbs.push(db);
    return db;
  };
  const db = open();
  const services: SandboxService[] = [];
  const mk = (d: Db) => {
    const s = new SandboxService({ config, db: d, log: silentLogger(), sys: getSys() });
    services.push(s);
    return s;
  };
  const env: SandboxEnv = {
    dir, config, db, netName, bridge, subnetPrefix, dataDir, cgroupPrefix,
    service: mk(db),
    async restart() {
      const s = mk(open());
      await s.recover();
      return s;
    },
    async writeConflist(extraPlugins = []) {
      await fs.writeFile(
        path.join(config.cniConfDir, '10-test.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: netName,
          plugins: [
            {
              type: 'bridge', bridge, isGateway: true, ipMasq: true, hairpinMode: true,
              ipam: { type: 'host-local', ranges: [[{ subnet: `${subnetPrefix}0/24` }]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
            },
            { type: 'portmap', capabilities: { portMappings: true }, snat: true },
            ...extraPlugins,
          ],
        }),
      );
    },
    async cleanup() {
      // Remove what each service still knows (a failed test may have left sandboxes).
      const last = services[services.length - 1]!;
      for (const e of last.list()) await last.remove(e.row.id, AbortSignal.timeout(60_000)).catch(() => undefined);
      for (const d of dbs) d.close();
      if (existsSync(`/sys/class/net/${bridge}`)) await succeeds('ip', ['link', 'del', bridge]);
      await removeMasqRules(netName);
      // Deepest first: a pod whose init nori could not prove its own (the simulated reboot)
      // keeps its cgroup dirs until the test ends that init and the node reaps it.
      for (const h of await fs.readdir('/sys/fs/cgroup')) {
        const p = path.join('/sys/fs/cgroup', h, cgroupPrefix);
        if (existsSync(p)) await removeCgroupTree(p);
      }
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
  await env.writeConflist();
  return env;
}

/** A RunPodSandboxRequest with every default filled in (as the wire decoder would). */
export function podRequest(name: string, config: DeepPartial<PodSandboxConfig> = {}, runtimeHandler = ''): RunPodSandboxRequest {
  return RunPodSandboxRequest.fromPartial({
    runtimeHandler,
    config: { metadata: { name, namespace: 'sbtest', uid: `uid-${name}`, attempt: 0 }, ...config } as any,
  });
}

type DeepPartial<T> = T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * The bridge plugin's ipMasq rules of this run's network. DEL without a netns (the "reboot" test
 * unmounts the pin; a real reboot clears iptables too) cannot find the pod IP to remove them.
 */
export async function removeMasqRules(netName: string): Promise<string[]> {
  const lines = (await sh('iptables', ['-t', 'nat', '-S', 'POSTROUTING']).catch(() => '')).split('\n');
  const re = /^-A POSTROUTING -s (\S+) -m comment --comment "name: \\"([^"\\]+)\\" id: \\"([0-9a-f]+)\\"" -j (CNI-[0-9a-f]+)$/;
  for (const line of lines) {
    const m = re.exec(line);
    if (!m || m[2] !== netName) continue;
    await succeeds('iptables', ['-t', 'nat', '-D', 'POSTROUTING', '-s', m[1]!, '-m', 'comment', '--comment', `name: "${netName}" id: "${m[3]}"`, '-j', m[4]!]);
    if (await succeeds('iptables', ['-t', 'nat', '-F', m[4]!])) await succeeds('iptables', ['-t', 'nat', '-X', m[4]!]);
  }
  const left = (await sh('iptables', ['-t', 'nat', '-S']).catch(() => '')).split('\n').filter((l) => l.includes(`name: \\"${netName}\\"`));
  return left;
}
