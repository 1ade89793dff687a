// CNI against the real Debian plugins (bridge, host-local, portmap) and the kernel, as root.
// Everything host-wide is unique to this run — bridge name, subnet, network name, host-local
// dataDir, netns names — and the after hook deletes exactly those.

import { strict as assert } from 'node:assert';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CniNetwork } from '../../../src/network/cni-network';
import type { RuntimeConf } from '../../../src/network/cni-types';
import { podIPsFromResult } from '../../../src/network/pod-ips';
import { podRuntimeConf } from '../../../src/network/pod-runtime-conf';
import { cniPluginsPresent } from '../../helpers/cni_plugins';

const run = promisify(execFile);
const PLUGINS = '/usr/lib/cni';

async function sh(cmd: string, args: string[]): Promise<string> {
  return (await run(cmd, args, { timeout: 20_000 })).stdout;
}

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    await sh(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** A subnet 10.231.X.0/24 no address or route on the host mentions. */
async function freeSubnet(): Promise<string> {
  const used = (await sh('ip', ['-4', 'addr'])) + (await sh('ip', ['-4', 'route']));
  for (let i = 0; i < 50; i++) {
    const x = 1 + Math.floor(Math.random() * 254);
    if (!used.includes(`10.231.${x}.`)) return `10.231.${x}.0/24`;
  }
  throw new Error('no free 10.231.x.0/24 subnet');
}

/** A TCP port on 127.0.0.1 nothing listens on. */
async function freeHostPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 20000);
    if (!(await connectAndRead('127.0.0.1', p, 500).then(() => true, () => false))) return p;
  }
  throw new Error('no free host port');
}

function connectAndRead(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timeout connecting to ${host}:${port}`));
    }, timeoutMs);
    sock.on('data', (b) => (data += b.toString()));
    sock.on('end', () => {
      clearTimeout(timer);
      resolve(data);
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** libcni/plugins utils.FormatChainName: the bridge plugin's per-container ipMasq chain. */
function masqChain(network: string, containerId: string): string {
  return `CNI-${createHash('sha512').update(network + containerId).digest('hex')}`.slice(0, 28);
}

describe('network/cni (root, real plugins)', function () {
  this.timeout(60_000);

  const suffix = randomBytes(3).toString('hex');
  const bridge = `ncni${suffix}`;
  const netName = `nori-cnitest-${suffix}`;
  const containerIds: string[] = [];
  const attachments: RuntimeConf[] = [];
  const netnsNames: string[] = [];
  const listeners: ChildProcess[] = [];
  let root = '';
  let dataDir = '';
  let subnet = '';
  let cni: CniNetwork;

  async function newNetns(): Promise<{ name: string; path: string }> {
    const name = `nori-cnitest-${suffix}-${netnsNames.length}`;
    await sh('ip', ['netns', 'add', name]);
    netnsNames.push(name);
    return { name, path: `/run/netns/${name}` };
  }

  function podRt(containerId: string, netnsPath: string, hostPort?: number): RuntimeConf {
    containerIds.push(containerId);
    const rt = podRuntimeConf({
      sandboxId: containerId,
      netns: netnsPath,
      podName: `pod-${containerId.slice(0, 6)}`,
      podNamespace: 'cnitest',
      podUid: `uid-${containerId}`,
      portMappings: hostPort ? [{ hostPort, containerPort: 8080, protocol: 0, hostIp: '127.0.0.1' }] : [],
    });
    attachments.push(rt);
    return rt;
  }

  /** A TCP server inside the netns on :8080 that greets and closes. */
  async function listenIn(netnsName: string): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', netnsName, process.execPath, '-e',
      "require('net').createServer(s => s.end('hello from pod\\n')).listen(8080, '0.0.0.0', () => console.log('ready'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    listeners.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`listener exited ${code}`)));
    });
  }

  async function leaseFile(ip: string): Promise<string> {
    return path.join(dataDir, netName, ip);
  }

  before(async function () {
    if (process.getuid?.() !== 0 || !cniPluginsPresent()) this.skip();
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'nori-cni-it-'));
    dataDir = path.join(root, 'ipam');
    subnet = await freeSubnet();
    const confDir = path.join(root, 'net.d');
    await fs.mkdir(confDir);
    await fs.writeFile(
      path.join(confDir, '10-test.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: netName,
        plugins: [
          {
            type: 'bridge',
            bridge,
            isGateway: true,
            ipMasq: true,
            hairpinMode: true,
            ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
          },
          { type: 'portmap', capabilities: { portMappings: true }, snat: true },
        ],
      }),
    );
    cni = new CniNetwork({ confDir, binDirs: [PLUGINS], cacheDir: path.join(root, 'cache'), execTimeoutMs: 30_000 });
  });

  after(async function () {
    for (const l of listeners) if (l.exitCode === null) l.kill('SIGKILL');
    // A failed test may have left an attachment: DEL releases its lease, veth and iptables rules.
    for (const rt of attachments) await cni?.del(rt).catch(() => undefined);
    for (const name of netnsNames) {
      if (existsSync(`/run/netns/${name}`)) await succeeds('ip', ['netns', 'del', name]);
    }
    // Rules the bridge plugin cannot remove once a netns is gone (it learns the pod's IPs from
    // the interface): delete this run's ones by exact chain name and comment.
    for (const id of containerIds) {
      const chain = masqChain(netName, id);
      const rules = (await sh('iptables', ['-t', 'nat', '-S', 'POSTROUTING']).catch(() => '')).split('\n');
      for (const rule of rules.filter((r) => r.includes(`-j ${chain} `) || r.endsWith(`-j ${chain}`))) {
        const m = /^-A POSTROUTING -s (\S+) /.exec(rule);
        if (m) await succeeds('iptables', ['-t', 'nat', '-D', 'POSTROUTING', '-s', m[1]!, '-j', chain, '-m', 'comment', '--comment', `name: "${netName}" id: "${id}"`]);
      }
      if (await succeeds('iptables', ['-t', 'nat', '-F', chain])) await succeeds('iptables', ['-t', 'nat', '-X', chain]);
    }
    if (bridge && existsSync(`/sys/class/net/${bridge}`)) await succeeds('ip', ['link', 'del', bridge]);
    if (root) await fs.rm(root, { recursive: true, force: true });
    const nat = await sh('iptables', ['-t', 'nat', '-S']).catch(() => '');
    const left = containerIds.filter((id) => nat.includes(id) || nat.includes(masqChain(netName, id)));
    assert.deepEqual(left, [], 'no iptables rules left for this run');
  });

  it('status is ready with the temp conflist', async () => {
    const s = await cni.status();
    assert.equal(s.ready, true, s.message);
    assert.equal(s.network?.name, netName);
  });

  it('ADD gives eth0 in the netns the IP, reachable from the host; DEL releases it; DEL twice is fine', async () => {
    const ns = await newNetns();
    const hostPort = await freeHostPort();
    const rt = podRt(randomBytes(16).toString('hex'), ns.path, hostPort);
    const { result } = await cni.add(rt);
    const { ip, additionalIps } = podIPsFromResult(result);
    assert.ok(ip.startsWith(subnet.slice(0, subnet.lastIndexOf('.') + 1)), `pod IP ${ip} in ${subnet}`);
    assert.deepEqual(additionalIps, []);

    // The address is on eth0 inside the namespace, and the bridge is the gateway.
    const addr = await sh('ip', ['netns', 'exec', ns.name, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    assert.match(addr, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/24`));
    assert.ok(existsSync(`/sys/class/net/${bridge}`));
    assert.ok(existsSync(await leaseFile(ip)), 'host-local lease recorded');

    // Host to pod over the bridge.
    await listenIn(ns.name);
    assert.equal(await connectAndRead(ip, 8080), 'hello from pod\n');

    // hostPort on 127.0.0.1 through portmap (DNAT in OUTPUT, SNAT + route_localnet for 127/8).
    assert.equal(await connectAndRead('127.0.0.1', hostPort), 'hello from pod\n');
    assert.equal((await fs.readFile(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, 'utf8')).trim(), '1');
    assert.match(await sh('iptables', ['-t', 'nat', '-S', 'POSTROUTING']), new RegExp(masqChain(netName, rt.containerId)));

    await cni.del(rt);
    assert.equal(existsSync(await leaseFile(ip)), false, 'lease released');
    assert.equal(await succeeds('ip', ['netns', 'exec', ns.name, 'ip', 'link', 'show', 'eth0']), false, 'eth0 gone');
    await assert.rejects(connectAndRead('127.0.0.1', hostPort, 1500), 'hostPort no longer forwarded');
    const nat = await sh('iptables', ['-t', 'nat', '-S']);
    assert.equal(nat.includes(masqChain(netName, rt.containerId)), false, 'ipMasq chain removed');
    assert.equal(nat.includes(rt.containerId), false, 'no rule mentions the container');
    assert.deepEqual(await cni.cachedAttachments(rt.containerId), []);

    // Again, with no cache entry left: the current config, and plugins accept it.
    const again = await cni.del(rt);
    assert.deepEqual(again.torn, [{ networkName: netName, source: 'config' }]);
  });

  it('DEL after the netns was deleted still releases the IP', async () => {
    const ns = await newNetns();
    const rt = podRt(randomBytes(16).toString('hex'), ns.path);
    const { result } = await cni.add(rt);
    const { ip } = podIPsFromResult(result);
    assert.ok(existsSync(await leaseFile(ip)));

    await sh('ip', ['netns', 'del', ns.name]);
    assert.equal(existsSync(ns.path), false);
    const out = await cni.del(rt);
    assert.deepEqual(out.torn, [{ networkName: netName, source: 'cache' }]);
    assert.equal(existsSync(await leaseFile(ip)), false, 'lease released without the netns');
    assert.deepEqual(await cni.cachedAttachments(rt.containerId), []);
    // bridge 1.1.1 learns which ipMasq rules to drop from the interface, so with the netns gone
    // it leaves them (a plugin limitation; the after hook removes this run's by exact name).
    const leaked = (await sh('iptables', ['-t', 'nat', '-S'])).includes(masqChain(netName, rt.containerId));
    if (leaked) console.log(`      (bridge plugin left ipMasq chain ${masqChain(netName, rt.containerId)}; removed in after hook)`);
  });

  it('two pods get different IPs from the range and reach each other over the bridge', async () => {
    const a = await newNetns();
    const b = await newNetns();
    const rtA = podRt(randomBytes(16).toString('hex'), a.path);
    const rtB = podRt(randomBytes(16).toString('hex'), b.path);
    const ipA = podIPsFromResult((await cni.add(rtA)).result).ip;
    const ipB = podIPsFromResult((await cni.add(rtB)).result).ip;
    assert.notEqual(ipA, ipB);
    await listenIn(b.name);
    const client = `require('net').connect(8080, '${ipB}').on('data', d => process.stdout.write(d)).on('error', e => { console.error(e.message); process.exit(1); })`;
    assert.equal(await sh('ip', ['netns', 'exec', a.name, process.execPath, '-e', client]), 'hello from pod\n');
    await cni.del(rtA);
    await cni.del(rtB);
    assert.equal(existsSync(await leaseFile(ipA)) || existsSync(await leaseFile(ipB)), false);
  });
});
