// The built-in network's logic against a FakeNetSys and a real SQLite store: addresses,
// round-robin IPAM, hostPort claims, the nft scripts, release, and the CNI/built-in choice.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { AlreadyExistsError, ResourceExhaustedError } from '../../../../src/errors';
import { BridgeNetwork, vethName } from '../../../../src/network/bridge/bridge-network';
import { canonicalAddress, gatewayOf, parseSubnet, podRange } from '../../../../src/network/bridge/cidr';
import { nextFreeAddress } from '../../../../src/network/bridge/ipam';
import { tableScript } from '../../../../src/network/bridge/nft-rules';
import { CniNetwork } from '../../../../src/network/cni-network';
import { PodNetwork } from '../../../../src/network/pod-network';
import { podRuntimeConf } from '../../../../src/network/pod-runtime-conf';
import { podIPsFromResult } from '../../../../src/network/pod-ips';
import { openDb, type Db } from '../../../../src/store/db';
import { KvStore } from '../../../../src/store/kv';
import { FakeNetSys } from '../../../../src/sys/net_fake';

const ID = (n: number) => `${n.toString(16).padStart(2, '0')}`.repeat(32);

function rt(id: string, ports: Array<{ hostPort: number; containerPort: number; protocol?: number; hostIp?: string }> = []) {
  return podRuntimeConf({ sandboxId: id, netns: `/run/test/ns/${id}`, podName: 'p', podNamespace: 'n', podUid: 'u', portMappings: ports });
}

describe('network/bridge: addresses', () => {
  it('computes subnets, gateways and the pod range as host-local does', () => {
    const s = parseSubnet('10.89.7.9/16');
    assert.equal(s.cidr, '10.89.0.0/16');
    assert.equal(gatewayOf(s), '10.89.0.1');
    const r = podRange(s);
    assert.equal(r.last - r.first + 1n, 65536n - 3n, 'network, gateway and broadcast excluded');
    const v6 = parseSubnet('fd00:0:0:0::/64');
    assert.equal(v6.cidr, 'fd00::/64');
    assert.equal(gatewayOf(v6), 'fd00::1');
    assert.equal(canonicalAddress('FD00:0::0005'), 'fd00::5');
    assert.throws(() => parseSubnet('10.0.0.0'), /not a CIDR/);
  });
});

describe('network/bridge: IPAM', () => {
  it('looks candidates up one at a time from the one after the last given, not every lease', () => {
    const s = parseSubnet('10.77.0.0/29'); // pods .2-.6
    const leased = new Set(['10.77.0.5', '10.77.0.6']);
    const asked: string[] = [];
    const leases = { isLeased: (ip: string) => (asked.push(ip), leased.has(ip)) };
    const kv = { get: () => String(podRange(s).first + 2n) } as unknown as KvStore; // .4 given last
    assert.equal(nextFreeAddress(s, leases, kv), '10.77.0.2', 'after .4: .5 and .6 are leased, then round to .2');
    assert.deepEqual(asked, ['10.77.0.5', '10.77.0.6', '10.77.0.2']);
    for (const ip of ['10.77.0.2', '10.77.0.3', '10.77.0.4']) leased.add(ip);
    assert.throws(() => nextFreeAddress(s, leases, kv), ResourceExhaustedError);
  });
});

describe('network/bridge: BridgeNetwork (fake kernel)', () => {
  let dir: string;
  let db: Db;
  let net: FakeNetSys;
  let bn: BridgeNetwork;

  beforeEach(() => {
    dir = mkdtempSync('/tmp/nori-bn-');
    db = openDb(dir);
    net = new FakeNetSys();
    bn = new BridgeNetwork({ bridge: 'nbt0', podCidr: '10.77.0.0/29,fd77::/64', db, net });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sets up the bridge, forwarding and one table, once', async () => {
    await bn.ensure();
    await bn.ensure();
    assert.deepEqual(net.calls.filter((c) => c.op === 'ensureBridge').map((c) => c.args), [['nbt0', ['10.77.0.1/29', 'fd77::1/64']]]);
    assert.equal(net.sysctls.get('net/ipv4/ip_forward'), '1');
    assert.equal(net.sysctls.get('net/ipv6/conf/all/forwarding'), '1');
    assert.equal(net.sysctls.get('net/ipv4/conf/nbt0/route_localnet'), '1');
    assert.equal(net.scripts.length, 1);
    const masq = net.scripts[0]!.split('\n').filter((l) => l.includes('masquerade') && !l.includes('ct status dnat'));
    assert.deepEqual(masq, [
      'add rule inet nori_nbt0 postrouting ip saddr 10.77.0.0/29 ip daddr != { 10.77.0.0/29, 224.0.0.0/4 } masquerade',
      'add rule inet nori_nbt0 postrouting ip6 saddr fd77::/64 ip6 daddr != { fd77::/64, ff00::/8 } masquerade',
    ], 'one masquerade rule per subnet');
  });

  it('gives each pod one address per family, a veth, routes via the bridge, and frees them on DEL', async () => {
    const a = await bn.add(rt(ID(1)));
    assert.deepEqual(podIPsFromResult(a.result), { ip: '10.77.0.2', additionalIps: ['fd77::2'] });
    const attach = net.calls.find((c) => c.op === 'attachPod')!.args[0] as Record<string, unknown>;
    assert.deepEqual(attach, {
      netns: `/run/test/ns/${ID(1)}`, hostIf: vethName(ID(1)), podIf: 'eth0', bridge: 'nbt0',
      addresses: ['10.77.0.2/29', 'fd77::2/64'], gateways: ['10.77.0.1', 'fd77::1'],
    });
    assert.ok(vethName(ID(1)).length <= 15);
    assert.deepEqual(a.result.routes, [{ dst: '0.0.0.0/0', gw: '10.77.0.1' }, { dst: '::/0', gw: 'fd77::1' }]);
    assert.deepEqual(bn.attachedIds(), [ID(1)]);
    await bn.del(rt(ID(1)));
    assert.ok(net.calls.some((c) => c.op === 'deleteLink' && c.args[0] === vethName(ID(1))));
    assert.deepEqual(bn.attachedIds(), []);
    await bn.del(rt(ID(1))); // again: fine
  });

  it('hands addresses out round-robin, survives a reopen, and says when the subnet is full', async () => {
    await bn.add(rt(ID(1)));
    await bn.add(rt(ID(2)));
    await bn.del(rt(ID(1)));
    // a restart: a new BridgeNetwork on the same store
    const again = new BridgeNetwork({ bridge: 'nbt0', podCidr: '10.77.0.0/29', db, net });
    const ips = [];
    for (const n of [3, 4, 5, 6]) ips.push(podIPsFromResult((await again.add(rt(ID(n)))).result).ip);
    // .2 freed, .3 held; after .3 come .4 .5 .6 and then the freed .2 (.7 is broadcast)
    assert.deepEqual(ips, ['10.77.0.4', '10.77.0.5', '10.77.0.6', '10.77.0.2']);
    await assert.rejects(again.add(rt(ID(7))), ResourceExhaustedError);
  });

  it('maps hostPorts per family and refuses a hostPort another pod holds', async () => {
    await bn.add(rt(ID(1), [{ hostPort: 8080, containerPort: 80 }, { hostPort: 5353, containerPort: 53, protocol: 1, hostIp: '127.0.0.1' }]));
    const adds = net.scripts.at(-1)!;
    assert.match(adds, /add element inet nori_nbt0 hp4 \{ tcp \. 8080 : 10\.77\.0\.2 \. 80 \}/);
    assert.match(adds, /add element inet nori_nbt0 hp6 \{ tcp \. 8080 : fd77::2 \. 80 \}/);
    assert.match(adds, /add element inet nori_nbt0 hp4ip \{ 127\.0\.0\.1 \. udp \. 5353 : 10\.77\.0\.2 \. 53 \}/);
    assert.doesNotMatch(adds, /hp6ip/, 'a v4 host address maps the v4 pod address only');
    await assert.rejects(bn.add(rt(ID(2), [{ hostPort: 8080, containerPort: 81 }])), AlreadyExistsError);
    assert.deepEqual(bn.attachedIds(), [ID(1)], 'the refused pod holds nothing');
    await bn.del(rt(ID(1)));
    const dels = net.calls.filter((c) => c.op === 'nft').slice(-3).map((c) => String(c.args[0]).trim());
    assert.deepEqual(dels, [
      'delete element inet nori_nbt0 hp4 { tcp . 8080 }',
      'delete element inet nori_nbt0 hp6 { tcp . 8080 }',
      'delete element inet nori_nbt0 hp4ip { 127.0.0.1 . udp . 5353 }',
    ]);
    await bn.add(rt(ID(2), [{ hostPort: 8080, containerPort: 81 }])); // free again
  });

  it('uses UpdateRuntimeConfig’s pod CIDR when --pod-cidr is unset, and keeps older subnets masqueraded', async () => {
    const kv = new KvStore(db);
    const unset = new BridgeNetwork({ bridge: 'nbt1', podCidr: '', db, net });
    assert.deepEqual(unset.subnets().map((s) => s.cidr), ['10.89.0.0/16']);
    await unset.add(rt(ID(1)));
    kv.set('pod_cidr', '10.66.1.0/24');
    assert.deepEqual(unset.subnets().map((s) => s.cidr), ['10.66.1.0/24']);
    const r = await unset.add(rt(ID(2)));
    assert.equal(podIPsFromResult(r.result).ip, '10.66.1.2');
    const table = net.scripts.filter((s) => s.startsWith('add table')).at(-1)!;
    assert.match(table, /ip saddr 10\.66\.1\.0\/24 ip daddr/);
    assert.match(table, /ip saddr 10\.89\.0\.0\/16 ip daddr/, 'the first pod still masquerades');
  });

  it('reports NetworkReady false with the reason when set-up fails, and retries', async () => {
    net.failNext.set('ensureBridge', new Error('EPERM: operation not permitted, create bridge'));
    const s = await bn.status();
    assert.equal(s.ready, false);
    assert.equal(s.reason, 'NetworkPluginNotReady');
    assert.match(s.message, /EPERM/);
    assert.equal((await bn.status()).ready, true);
  });

  it('rolls the attachment back through DEL when the veth cannot be made', async () => {
    net.failNext.set('attachPod', new Error('ENOENT: no such file, open netns'));
    await assert.rejects(bn.add(rt(ID(1), [{ hostPort: 9000, containerPort: 90 }])), /ENOENT/);
    assert.deepEqual(bn.attachedIds(), [ID(1)], 'the store still records it, for DEL');
    await bn.del(rt(ID(1)));
    assert.deepEqual(bn.attachedIds(), []);
  });
});

describe('network/pod-network: choosing CNI or built-in', () => {
  let dir: string;
  let db: Db;
  let net: FakeNetSys;
  let cni: CniNetwork;
  const conflist = JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'loopback' }] });

  beforeEach(() => {
    dir = mkdtempSync('/tmp/nori-pn-');
    db = openDb(dir);
    net = new FakeNetSys();
    cni = new CniNetwork({ confDir: path.join(dir, 'net.d'), binDirs: ['/usr/lib/cni'], cacheDir: path.join(dir, 'cni') });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('auto: built-in without a valid conflist, CNI with one; NetworkReady follows', async () => {
    const pn = new PodNetwork('auto', cni, new BridgeNetwork({ bridge: 'nbt2', podCidr: '10.78.0.0/24', db, net }));
    assert.equal(await pn.choice(), 'builtin');
    assert.equal((await pn.status()).ready, true);
    await pn.add(rt(ID(1)));
    assert.equal(await pn.hasAttachment(ID(1)), true);
    require('node:fs').mkdirSync(path.join(dir, 'net.d'));
    writeFileSync(path.join(dir, 'net.d', '10-x.conflist'), conflist);
    assert.equal(await pn.choice(), 'cni');
    // DEL goes to what the ADD used, whatever the choice is now
    await pn.del(rt(ID(1)));
    assert.equal(await pn.hasAttachment(ID(1)), false);
    assert.ok(net.calls.some((c) => c.op === 'deleteLink'));
  });

  it('cni: NetworkReady false until a conflist exists; builtin: never looks at the conf dir', async () => {
    const onlyCni = new PodNetwork('cni', cni, new BridgeNetwork({ bridge: 'nbt3', podCidr: '', db, net }));
    const s = await onlyCni.status();
    assert.equal(s.ready, false);
    assert.equal(s.reason, 'NetworkPluginNotReady');
    assert.equal(net.calls.length, 0, 'no bridge is made for a CNI daemon');
    const onlyBuiltin = new PodNetwork('builtin', cni, new BridgeNetwork({ bridge: 'nbt3', podCidr: '', db, net }));
    require('node:fs').mkdirSync(path.join(dir, 'net.d'));
    writeFileSync(path.join(dir, 'net.d', '10-x.conflist'), conflist);
    assert.equal(await onlyBuiltin.choice(), 'builtin');
  });
});

describe('network/bridge: nft table', () => {
  it('is one transaction that re-adds the claims from the store', () => {
    const s = tableScript('nori_b', 'b', [parseSubnet('10.1.0.0/16')], [
      { protocol: 'tcp', hostIp: '', hostPort: 80, family: 4, sandboxId: 'x', podIp: '10.1.0.2', containerPort: 8080 },
    ]);
    assert.match(s, /^add table inet nori_b$/m);
    assert.match(s, /^flush map inet nori_b hp4$/m);
    assert.match(s, /add element inet nori_b hp4 \{ tcp \. 80 : 10\.1\.0\.2 \. 8080 \}\n$/);
    assert.match(s, /ct status dnat oifname "b" ip saddr \{ 127\.0\.0\.0\/8, 10\.1\.0\.0\/16 \} masquerade/);
    // the loopback guard that route_localnet needs, in a filter chain of its own, re-made each time
    assert.match(s, /^add chain inet nori_b input \{ type filter hook input priority -1; policy accept; \}$/m);
    assert.match(s, /^flush chain inet nori_b input$/m);
    assert.match(s, /^add rule inet nori_b input iifname "b" ip daddr 127\.0\.0\.0\/8 ct state != \{ established, related \} counter drop$/m);
  });
});
