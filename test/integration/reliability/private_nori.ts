// A private nori for the reliability tests: its own dirs, a bridge conflist with a unique network
// name, bridge and subnet (host-local leases under the daemon's dir), the test registry with the
// busybox fixture pulled. cleanup() removes every pod, stops the daemon and deletes exactly the
// bridge and dirs it made.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeAllPodsAndCleanup, startNori, type NoriProcess, type StartOptions } from '../../helpers/daemon';
import { pushFixtures, startRegistry, type FixtureName, type PushedFixtures, type TestRegistry } from '../../helpers/registry';
import { PLUGINS, sh, succeeds } from '../sandbox/env';
import { cniPluginsPresent } from '../../helpers/cni_plugins';

export interface PrivateNori {
  nori: NoriProcess;
  reg?: TestRegistry;
  fx?: PushedFixtures;
  busybox: string;
  bridge: string;
  subnetPrefix: string;
  ipamDir: string;
  logDir: string;
  suffix: string;
  /** Stops the daemon and starts a new one on the same dirs and flags (env.nori is replaced). */
  restart(): Promise<NoriProcess>;
  /** A pod config (proto-loader shape) with a unique name. */
  podConfig(name?: string, extra?: Record<string, unknown>): Record<string, any>;
  cleanup(): Promise<void>;
}

let seq = 0;

export function canRun(): boolean {
  return process.getuid?.() === 0 && cniPluginsPresent();
}

async function freeSubnet(): Promise<string> {
  const used = (await sh('ip', ['-4', 'addr'])) + (await sh('ip', ['-4', 'route']));
  for (let i = 0; i < 50; i++) {
    const p = `10.236.${1 + Math.floor(Math.random() * 254)}.`;
    if (!used.includes(p)) return p;
  }
  throw new Error('no free 10.236.x.0/24 subnet');
}

export async function privateNori(opts: { registry?: boolean; fixtures?: FixtureName[]; start?: StartOptions } = {}): Promise<PrivateNori> {
  const suffix = randomBytes(3).toString('hex');
  const bridge = `nrl${suffix}`;
  const subnetPrefix = await freeSubnet();
  let reg: TestRegistry | undefined;
  let fx: PushedFixtures | undefined;
  if (opts.registry !== false) {
    reg = await startRegistry({ logLevel: 'info' }); // info: its access log shows every blob GET
    fx = await pushFixtures(reg, { names: ['busybox', ...(opts.fixtures ?? [])] });
  }
  const args = ['--cgroup-root-prefix', `nori-rel-${suffix}`, '--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json', '--cni-bin-dir', PLUGINS];
  const extraArgs = [...args, ...(opts.start?.extraArgs ?? [])];
  const nori = await startNori({ ...opts.start, extraArgs });
  const ipamDir = join(nori.dir, 'ipam');
  writeFileSync(
    join(nori.cniConfDir, '10-rel.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: `nori-rel-${suffix}`,
      plugins: [{ type: 'bridge', bridge, isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: `${subnetPrefix}0/24` }]], dataDir: ipamDir } }],
    }),
  );
  const logDir = mkdtempSync('/tmp/nori-rel-logs-');
  const busybox = fx ? fx.get('busybox').reference : '';
  if (busybox) await nori.client.call('PullImage', { image: { image: busybox } });
  const env: PrivateNori = {
    nori, reg, fx, busybox, bridge, subnetPrefix, ipamDir, logDir, suffix,
    podConfig(name = `p${++seq}`, extra = {}) {
      return { metadata: { name, namespace: 'rel', uid: `rel-${suffix}-${name}`, attempt: 0 }, log_directory: join(logDir, name), linux: {}, ...extra };
    },
    async restart() {
      await env.nori.stop();
      env.nori = await startNori({ ...opts.start, dir: env.nori.dir, extraArgs });
      return env.nori;
    },
    async cleanup() {
      await removeAllPodsAndCleanup(env.nori);
      await reg?.stop();
      rmSync(logDir, { recursive: true, force: true });
      if (existsSync(`/sys/class/net/${bridge}`)) await succeeds('ip', ['link', 'del', bridge]);
    },
  };
  return env;
}
