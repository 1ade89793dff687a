import { strict as assert } from 'node:assert';
import { parseProcCgroup } from '../../../src/inspect/cgroup';
import { builtinBridge, iptablesRules, nftRules } from '../../../src/inspect/netfilter';
import { joinSides } from '../../../src/inspect/network';
import { findOverlay } from '../../../src/inspect/overlay';
import { withKernel } from '../../../src/inspect/verbose';

// What the bridge plugin (ipMasq) and portmap write for one pod, as iptables-save prints it.
const ID = 'b8ad9f97bb8714852abefd76c2533afbbe9de4898a65b64e5fbb1510811e148f';
const SAVE = `*nat
:POSTROUTING ACCEPT [0:0]
:CNI-abc123 - [0:0]
:CNI-DN-def456 - [0:0]
:CNI-other - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -s 10.239.7.2/32 -m comment --comment "name: \\"net\\" id: \\"${ID}\\"" -j CNI-abc123
-A POSTROUTING -s 10.239.7.20/32 -m comment --comment "name: \\"net\\" id: \\"other\\"" -j CNI-other
-A CNI-abc123 -d 10.239.7.0/24 -m comment --comment "name: \\"net\\" id: \\"${ID}\\"" -j ACCEPT
-A CNI-abc123 ! -d 224.0.0.0/4 -m comment --comment "name: \\"net\\" id: \\"${ID}\\"" -j MASQUERADE
-A CNI-other ! -d 224.0.0.0/4 -j MASQUERADE
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"net\\" id: \\"${ID}\\"" -m multiport --dports 8080 -j CNI-DN-def456
-A CNI-DN-def456 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.239.7.2:80
COMMIT
`;

describe('inspect: netfilter rules of a pod', () => {
  it('picks the rules naming the pod (id or /32), and the per-pod chains they jump to', () => {
    const r = iptablesRules(SAVE, 'iptables', ['10.239.7.2'], ID);
    assert.deepEqual(r.map((x) => `${x.table} ${x.chain}`), [
      'nat POSTROUTING', 'nat CNI-abc123', 'nat CNI-abc123', 'nat CNI-HOSTPORT-DNAT', 'nat CNI-DN-def456',
    ]);
    assert.ok(r.every((x) => !x.rule.includes('10.239.7.20')), 'another pod whose IP shares a prefix is not matched');
  });

  it('reads nori\'s own nftables tables only', () => {
    const text = `table ip nat {
\tchain POSTROUTING {
\t\tip saddr 10.89.0.5 masquerade
\t}
}
table inet nori {
\tmap hostports {
\t\ttype inet_service : ipv4_addr . inet_service
\t\telements = { 8080 : 10.89.0.5 . 80 }
\t}
\tchain postrouting {
\t\tip saddr 10.89.0.5 ip daddr != 10.89.0.0/16 masquerade comment "pod ${ID}"
\t\tip saddr 10.89.0.50 masquerade
\t}
}
`;
    const r = nftRules(text, ['10.89.0.5'], ID);
    assert.deepEqual(r.map((x) => [x.table, x.chain, x.rule]), [
      ['inet nori', 'hostports', 'elements = { 8080 : 10.89.0.5 . 80 }'],
      ['inet nori', 'postrouting', `ip saddr 10.89.0.5 ip daddr != 10.89.0.0/16 masquerade comment "pod ${ID}"`],
    ]);
    // A subnet-wide rule of nori's table covers the pod too.
    const wide = nftRules('table inet nori_br {\n\tchain postrouting {\n\t\tip saddr 10.89.0.0/16 ip daddr != { 10.89.0.0/16, 224.0.0.0/4 } masquerade\n\t}\n}\n', ['10.89.3.4'], ID);
    assert.equal(wide.length, 1);
    assert.equal(nftRules('table inet nori_br {\n\tchain p {\n\t\tip saddr 10.90.0.0/16 masquerade\n\t}\n}\n', ['10.89.3.4'], ID).length, 0);
  });

  it('matches a dual-stack pod by either address, and neither by a longer address or another pod\'s id', () => {
    const text = `table inet nori_br {
\tmap hostports4 {
\t\telements = { 8080 : 10.89.0.7 . 80 }
\t}
\tmap hostports6 {
\t\telements = { 8080 : fd00:89::7 . 80 }
\t}
\tchain forward {
\t\tip daddr 10.89.0.7/32 accept
\t\tip daddr 10.89.0.70 accept
\t\tip6 daddr fd00:89::7b accept
\t\tcomment "pod other-pod-id"
\t}
}
`;
    const r = nftRules(text, ['10.89.0.7', 'fd00:89::7'], ID);
    assert.deepEqual(r.map((x) => x.rule), [
      'elements = { 8080 : 10.89.0.7 . 80 }',
      'elements = { 8080 : fd00:89::7 . 80 }',
      'ip daddr 10.89.0.7/32 accept',
    ]);
    assert.deepEqual(nftRules(text, [], ''), [], 'a pod with no address and no id matches nothing');
  });
});

describe('inspect: pod and host sides of the veth', () => {
  it('pairs eth0 with the host link whose ifindex is its link index, and that link\'s bridge', () => {
    const inPod = [
      { ifindex: 1, ifname: 'lo' },
      { ifindex: 2, ifname: 'eth0', link_index: 90, address: '2a:41:91:a1:20:a0', mtu: 1500, operstate: 'UP', linkinfo: { info_kind: 'veth' }, addr_info: [{ family: 'inet', local: '10.250.0.2', prefixlen: 24 }] },
    ];
    const onHost = [
      { ifindex: 2, ifname: 'ens3' },
      { ifindex: 7, ifname: 'br0', linkinfo: { info_kind: 'bridge' }, addr_info: [{ family: 'inet', local: '10.250.0.1', prefixlen: 24 }] },
      { ifindex: 90, ifname: 'veth1234', master: 'br0', address: 'f2:06:7a:f2:0d:06', linkinfo: { info_kind: 'veth' } },
    ];
    const v = joinSides('/run/x/net', inPod, onHost);
    assert.deepEqual(v.interfaces, [{
      name: 'eth0', ifindex: 2, kind: 'veth', mac: '2a:41:91:a1:20:a0', mtu: 1500, state: 'UP', addresses: ['10.250.0.2/24'],
      peer: { name: 'veth1234', ifindex: 90, mac: 'f2:06:7a:f2:0d:06', bridge: 'br0' },
    }]);
    assert.deepEqual(v.bridges, [{ name: 'br0', ifindex: 7, addresses: ['10.250.0.1/24'] }]);
  });
});

describe('inspect: kernel text formats', () => {
  it('/proc/PID/cgroup', () => {
    assert.deepEqual(parseProcCgroup('12:pids:/a\n1:name=systemd:/\n0::/b\n'), [
      { id: 12, controllers: ['pids'], path: '/a' }, { id: 1, controllers: ['name=systemd'], path: '/' }, { id: 0, controllers: [], path: '/b' },
    ]);
  });
  it('an overlay line of mountinfo, relative paths as the kernel shows them', () => {
    const o = findOverlay('49 27 0:40 / /run/b/rootfs rw,relatime - overlay overlay rw,lowerdir=l/A:l/B,upperdir=containers/x/upper,workdir=containers/x/work,uuid=on', '/run/b/rootfs');
    assert.deepEqual(o, { mountPoint: '/run/b/rootfs', mountId: 49, lowerdirs: ['l/A', 'l/B'], upperdir: 'containers/x/upper', workdir: 'containers/x/work' });
  });
});

describe('inspect: which network served a pod (iptables-save only for CNI)', () => {
  // `nft list ruleset` text: the built-in network's table is `inet nori_<bridge>` (bridge-network.ts).
  const ruleset = 'table ip nat {\n}\ntable inet nori_nbr0 {\n\tchain postrouting {\n\t}\n}\n';
  it('a bridge with nori\'s table is the built-in network\'s', () => assert.equal(builtinBridge(ruleset, 'nbr0'), true));
  it('a bridge without one is CNI\'s, also when a longer name shares its prefix', () => {
    assert.equal(builtinBridge(ruleset, 'cni0'), false);
    assert.equal(builtinBridge(ruleset, 'nbr'), false);
  });
  it('no ruleset read or no bridge known: treated as CNI (iptables is read)', () => {
    assert.equal(builtinBridge(null, 'nbr0'), false);
    assert.equal(builtinBridge(ruleset, undefined), false);
  });
});

describe('inspect: the kernel view joins the verbose document', () => {
  it('as one more key of the same JSON object, the other keys untouched', () => {
    const base = JSON.stringify({ pid: 7, netnsPath: '/run/x', cniResult: null });
    assert.deepEqual(JSON.parse(withKernel(base, JSON.stringify({ pids: { init: 7 } }))), { pid: 7, netnsPath: '/run/x', cniResult: null, kernel: { pids: { init: 7 } } });
    assert.deepEqual(JSON.parse(withKernel('{}', '[1]')), { kernel: [1] });
  });
});
