// The built-in network against what the bridge + host-local + portmap chain gives a pod, on a
// real bin/nori and the real kernel. One daemon in --network auto: pods made before its conf
// dir holds a conflist get the built-in network, pods made after get the CNI chain, so both
// are compared on the same host, by the same daemon, side by side:
//   - the same addresses and routes in the pod (subnet and bridge differ, nothing else);
//   - masquerade to the host's other interfaces ("another host": a netns behind a veth pair);
//   - hostPort reached from that other host, from the host's own address and loopback;
//   - hairpin: a pod reaches itself through its hostPort;
//   - a pod cannot reach the host's loopback services through the bridge (route_localnet's guard);
//   - after remove, no veth, nft element or lease row is left (test/helpers/leaks.ts).
// Bridges, subnets, netns and the table are unique to this run, and the after hook removes them.

import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import * as path from 'node:path';
import { removeAllPodsAndCleanup, startNori, type NoriProcess } from '../../helpers/daemon';
import { cniPluginsPresent } from '../../helpers/cni_plugins';
import { assertNoLeaks } from '../../helpers/leaks';
import { PLUGINS, removeMasqRules, sh, succeeds } from '../sandbox/env';

/** A /24 in 10.X.Y.0 that no address or route on the host mentions. */
async function freeSubnet(second: number): Promise<string> {
  const used = (await sh('ip', ['-4', 'addr'])) + (await sh('ip', ['-4', 'route']));
  for (let i = 0; i < 100; i++) {
    const p = `10.${second}.${1 + Math.floor(Math.random() * 254)}.`;
    if (!used.includes(p)) return p;
  }
  throw new Error('no free subnet');
}

const SERVER = (port: number, greeting: string) =>
  `require('net').createServer(s => s.end('${greeting} ' + s.remoteAddress + '\\n')).listen(${port}, '::', () => console.log('ready'))`;
const CLIENT = `const [h, p] = process.argv.slice(1); const s = require('net').connect({ host: h, port: +p });
let d = ''; s.on('data', b => d += b); s.on('end', () => { process.stdout.write(d); process.exit(0) });
s.on('error', e => { console.error(e.message); process.exit(2) }); setTimeout(() => { console.error('timeout'); process.exit(3) }, 4000);`;

describe('network/builtin: what bridge + host-local + portmap give a pod', function () {
  this.timeout(120_000);
  const suffix = randomBytes(3).toString('hex');
  const bridge = `nbi${suffix}`;
  const cniBridge = `nbc${suffix}`;
  const cniName = `nori-nbc-${suffix}`;
  const other = `nori-nbo-${suffix}`; // "another host"
  const otherIf = `nbo${suffix}`;
  const servers: ChildProcess[] = [];
  let nori: NoriProcess;
  let builtinNet = ''; // "10.237.X."
  let cniNet = '';
  let otherNet = '';
  let v6Net = ''; // the built-in network's IPv6 subnet, "fdXX:XXXX:XXXX::" 
  const hostPort = 20000 + Math.floor(Math.random() * 20000);
  const pods: Record<'builtin' | 'cni', { id: string; ip: string; netns: string }> = {} as never;

  const inNetns = (netns: string, cmd: string[]) => sh('nsenter', [`--net=${netns}`, ...cmd]);
  const fetchFrom = (netns: string | null, host: string, port: number) =>
    netns ? inNetns(netns, [process.execPath, '-e', CLIENT, host, String(port)]) : sh(process.execPath, ['-e', CLIENT, host, String(port)]);

  async function serveIn(netns: string, port: number, greeting: string): Promise<void> {
    const child = spawn('nsenter', [`--net=${netns}`, process.execPath, '-e', SERVER(port, greeting)], { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
    });
  }

  async function runPod(name: string, withHostPort = true): Promise<{ id: string; ip: string; netns: string }> {
    const config = {
      metadata: { name, namespace: 'nbtest', uid: `uid-${name}`, attempt: 0 },
      hostname: name,
      port_mappings: withHostPort ? [{ protocol: 'TCP', container_port: 8080, host_port: hostPort + (name === 'cni' ? 1 : 0) }] : [],
    };
    const id = (await nori.client.call('RunPodSandbox', { config })).pod_sandbox_id;
    const st = await nori.client.call('PodSandboxStatus', { pod_sandbox_id: id });
    return { id, ip: st.status.network.ip, netns: path.join(nori.state, 'ns', 'net', id) };
  }

  /** eth0's addresses and the routes, with the subnet prefix replaced so two subnets compare. */
  async function shape(netns: string, net: string): Promise<unknown> {
    const norm = (s: string) => s.split(net).join('NET.');
    const addrs = JSON.parse(await inNetns(netns, ['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0'])) as Array<Record<string, any>>;
    const routes = JSON.parse(await inNetns(netns, ['ip', '-j', '-4', 'route', 'show'])) as Array<Record<string, unknown>>;
    return {
      flags: addrs[0]!.flags,
      mtu: addrs[0]!.mtu,
      addrs: addrs[0]!.addr_info.map((a: Record<string, unknown>) => norm(`${a.local}/${a.prefixlen} ${a.scope}`)),
      routes: routes.map((r) => norm(JSON.stringify(r))),
    };
  }

  before(async function () {
    if (process.getuid?.() !== 0 || !cniPluginsPresent() || !existsSync('/usr/sbin/nft')) this.skip();
    builtinNet = await freeSubnet(237);
    cniNet = await freeSubnet(238);
    otherNet = await freeSubnet(239);
    // "another host": a netns behind a veth pair; the host end is one of the host's own addresses
    await sh('ip', ['netns', 'add', other]);
    await sh('ip', ['link', 'add', otherIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', other]);
    await sh('ip', ['addr', 'add', `${otherNet}1/24`, 'dev', otherIf]);
    await sh('ip', ['link', 'set', otherIf, 'up']);
    await sh('ip', ['-n', other, 'addr', 'add', `${otherNet}2/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', other, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', other, 'link', 'set', 'lo', 'up']);
    // no route back to any pod subnet: only masquerade makes a reply possible

    // Hextets without leading zeros, so the text is already the canonical form (RFC 5952) that
    // the kernel and nori print.
    const hextet = () => (0x1000 + (randomBytes(2).readUInt16BE(0) % 0xf000)).toString(16);
    v6Net = `fd${randomBytes(1).toString('hex')}:${hextet()}:${hextet()}::`;
    nori = await startNori({ extraArgs: ['--network', 'auto', '--bridge', bridge, '--pod-cidr', `${builtinNet}0/24,${v6Net}/64`, '--cni-bin-dir', PLUGINS] });
    pods.builtin = await runPod('builtin');
    writeFileSync(
      path.join(nori.cniConfDir, '10-nbc.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: cniName,
        plugins: [
          { type: 'bridge', bridge: cniBridge, isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: `${cniNet}0/24` }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(nori.dir, 'ipam') } },
          { type: 'portmap', capabilities: { portMappings: true }, snat: true },
        ],
      }),
    );
    pods.cni = await runPod('cni');
    await serveIn(pods.builtin.netns, 8080, 'builtin');
    await serveIn(pods.cni.netns, 8080, 'cni');
    await serveIn(`/run/netns/${other}`, 9999, 'other');
  });

  after(async () => {
    for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
    if (nori) await removeAllPodsAndCleanup(nori);
    await succeeds('ip', ['netns', 'del', other]);
    for (const b of [bridge, cniBridge, otherIf]) if (existsSync(`/sys/class/net/${b}`)) await succeeds('ip', ['link', 'del', b]);
    await succeeds('nft', ['delete', 'table', 'inet', `nori_${bridge}`]);
    await removeMasqRules(cniName);
  });

  it('the auto choice: built-in before a conflist exists, CNI after', () => {
    assert.ok(pods.builtin.ip.startsWith(builtinNet), `${pods.builtin.ip} in ${builtinNet}0/24`);
    assert.ok(pods.cni.ip.startsWith(cniNet), `${pods.cni.ip} in ${cniNet}0/24`);
    assert.ok(existsSync(`/sys/class/net/${bridge}/brif/veth${pods.builtin.id.slice(0, 11)}`), 'the built-in veth is a port of the bridge');
  });

  it('gives the pod the same addresses and routes as the CNI chain', async () => {
    const b = await shape(pods.builtin.netns, builtinNet);
    const c = await shape(pods.cni.netns, cniNet);
    assert.deepEqual(b, c);
    assert.deepEqual((b as { addrs: string[] }).addrs, ['NET.2/24 global']);
    // and the bridge is the gateway, with hairpin on the pod's port, as the bridge plugin sets them
    assert.match(await sh('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge]), new RegExp(`inet ${builtinNet.replace(/\./g, '\\.')}1/24`));
    assert.equal((await sh('cat', [`/sys/class/net/${bridge}/brif/veth${pods.builtin.id.slice(0, 11)}/hairpin_mode`])).trim(), '1');
  });

  it('adds IPv6 when a v6 subnet is configured: address, default route via the bridge, reachable', async () => {
    const st = await nori.client.call('PodSandboxStatus', { pod_sandbox_id: pods.builtin.id });
    assert.deepEqual(st.status.network.additional_ips.map((i: { ip: string }) => i.ip), [`${v6Net}2`]);
    const addrs = JSON.parse(await inNetns(pods.builtin.netns, ['ip', '-j', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global']));
    assert.deepEqual(addrs[0].addr_info.filter((a: Record<string, unknown>) => a.local).map((a: Record<string, unknown>) => `${a.local}/${a.prefixlen}`), [`${v6Net}2/64`]);
    const routes = JSON.parse(await inNetns(pods.builtin.netns, ['ip', '-j', '-6', 'route', 'show', 'default']));
    assert.equal(routes[0].gateway, `${v6Net}1`);
    assert.equal(routes[0].dev, 'eth0');
    // the host reaches the pod's server over the bridge by its v6 address
    assert.equal((await fetchFrom(null, `${v6Net}2`, 8080)).trim(), `builtin ${v6Net}1`);
    // one v6 masquerade rule for the v6 subnet
    const table = await sh('nft', ['list', 'table', 'inet', `nori_${bridge}`]);
    assert.equal(table.split('\n').filter((l) => l.includes(`ip6 saddr ${v6Net}/64 ip6 daddr != { ${v6Net}/64, ff00::/8 } masquerade`)).length, 1);
  });

  it('masquerades to the host’s other interfaces', async () => {
    for (const kind of ['builtin', 'cni'] as const) {
      const seen = await fetchFrom(pods[kind].netns, `${otherNet}2`, 9999);
      assert.equal(seen.trim(), `other ::ffff:${otherNet}1`, `${kind}: the other host sees the host's address`);
    }
  });

  it('forwards a hostPort from another host, from the host’s own address and from loopback', async () => {
    for (const kind of ['builtin', 'cni'] as const) {
      const port = hostPort + (kind === 'cni' ? 1 : 0);
      const fromOther = await fetchFrom(`/run/netns/${other}`, `${otherNet}1`, port);
      assert.equal(fromOther.trim(), `${kind} ::ffff:${otherNet}2`, `${kind}: from another host, its own address is seen`);
      const fromHostAddr = await fetchFrom(null, `${otherNet}1`, port);
      assert.equal(fromHostAddr.trim(), `${kind} ::ffff:${otherNet}1`, `${kind}: from the host's own address`);
      const fromLoopback = await fetchFrom(null, '127.0.0.1', port);
      const gw = kind === 'builtin' ? `${builtinNet}1` : `${cniNet}1`;
      assert.equal(fromLoopback.trim(), `${kind} ::ffff:${gw}`, `${kind}: from loopback, masqueraded to the bridge address`);
    }
  });

  it('hairpin: a pod reaches itself through its hostPort', async () => {
    for (const kind of ['builtin', 'cni'] as const) {
      const port = hostPort + (kind === 'cni' ? 1 : 0);
      const gw = kind === 'builtin' ? `${builtinNet}1` : `${cniNet}1`;
      const seen = await fetchFrom(pods[kind].netns, `${otherNet}1`, port);
      assert.equal(seen.trim(), `${kind} ::ffff:${gw}`, `${kind}: hairpin traffic comes back from the bridge address`);
    }
  });

  it('refuses a hostPort another pod of the daemon holds, and leaves nothing of the refused pod', async () => {
    await sh('rm', [path.join(nori.cniConfDir, '10-nbc.conflist')]); // back to the built-in network
    const config = { metadata: { name: 'dup', namespace: 'nbtest', uid: 'uid-dup', attempt: 0 }, port_mappings: [{ protocol: 'TCP', container_port: 1, host_port: hostPort }] };
    const err = await nori.client.call('RunPodSandbox', { config }).catch((e) => e);
    assert.equal(err.code, 6, `ALREADY_EXISTS: ${err.message}`);
    assert.match(err.message, /hostPort tcp\/\d+ is already used/);
  });

  it('a pod cannot reach the host\u2019s loopback services through the bridge (CVE-2020-8558)', async () => {
    // route_localnet is on for the bridge (hostPorts from localhost). A pod with CAP_NET_RAW can
    // send a frame to 127.0.0.1 at the bridge's MAC; here its netns is set up to route that way.
    const crafty = await runPod('crafty', false);
    const seen: string[] = [];
    const listener = createServer((c) => { seen.push(String(c.remoteAddress)); c.destroy(); });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as AddressInfo).port;
    try {
      await inNetns(crafty.netns, ['sysctl', '-qw', 'net.ipv4.conf.eth0.route_localnet=1']);
      await inNetns(crafty.netns, ['ip', 'route', 'del', 'local', '127.0.0.1', 'table', 'local']);
      await inNetns(crafty.netns, ['ip', 'route', 'add', '127.0.0.1/32', 'via', `${builtinNet}1`, 'dev', 'eth0']);
      await assert.rejects(fetchFrom(crafty.netns, '127.0.0.1', port), 'no connection from the pod to the host\u2019s loopback');
      assert.deepEqual(seen, []);
      // Dropped by nori's own guard, not only by a firewall someone else (kubelet) may have added.
      const chain = await sh('nft', ['list', 'chain', 'inet', `nori_${bridge}`, 'input']);
      const dropped = Number(/ip daddr 127\.0\.0\.0\/8 .*counter packets (\d+)/.exec(chain)?.[1] ?? 0);
      assert.ok(dropped >= 1, chain);
      // the host itself still reaches a hostPort through loopback (route_localnet's purpose)
      assert.equal((await fetchFrom(null, '127.0.0.1', hostPort)).trim(), `builtin ::ffff:${builtinNet}1`);
    } finally {
      listener.close();
      await nori.client.call('StopPodSandbox', { pod_sandbox_id: crafty.id });
      await nori.client.call('RemovePodSandbox', { pod_sandbox_id: crafty.id });
    }
  });

  it('after stop and remove, no veth, nft element or lease is left', async () => {
    for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
    for (const p of Object.values(pods)) {
      await nori.client.call('StopPodSandbox', { pod_sandbox_id: p.id });
      await nori.client.call('RemovePodSandbox', { pod_sandbox_id: p.id });
    }
    await assertNoLeaks(nori);
    assert.deepEqual(JSON.parse(await sh('ip', ['-j', 'link', 'show', 'master', bridge])), [], 'no port left on the bridge');
    const table = await sh('nft', ['list', 'table', 'inet', `nori_${bridge}`]);
    assert.doesNotMatch(table, /elements/, 'no hostPort element left');
    assert.equal(table.split('\n').filter((l) => /ip6? saddr \S+ ip6? daddr != .* masquerade/.test(l)).length, 2, 'one masquerade rule per subnet (v4, v6)');
    await assert.rejects(fetchFrom(null, '127.0.0.1', hostPort), 'the hostPort is no longer forwarded');
  });
});
