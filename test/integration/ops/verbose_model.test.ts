// The seeds' model in verbose PodSandboxStatus / ContainerStatus: for a running pod on a real
// bridge network (bridge + host-local + ipMasq + portmap) and a running container with limits,
// every value under info.kernel equals what the kernel itself says: readlink /proc/PID/ns/*,
// /proc/PID/cgroup and the cgroup files, `ip -o link/addr` on both sides of the veth, findmnt
// for the overlay, iptables-save for the pod's rules, cgroup.procs for the pids.

import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startInside, type Inside, type Pod } from '../container/inside_harness';
import { NORI_BIN } from '../../helpers/daemon';

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
// "Host" is the namespaces nori (and this test, its sibling) run in.
const nsInode = (pid: number | string, t: string) => Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${t}`))![1]);

function procsUnder(dir: string): number[] {
  const out = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...procsUnder(join(dir, e.name)));
  return out.sort((a, b) => a - b);
}

describe('verbose status: the kernel view (real pod, real bridge network)', function () {
  this.timeout(180_000);
  const suffix = randomBytes(2).toString('hex');
  const bridge = `ntops${suffix}`.slice(0, 15);
  let inside: Inside;
  let pod: Pod;
  let ctr: string;
  let podInfo: any;
  let ctrInfo: any;

  before(async () => {
    inside = await startInside(['busybox']);
    // Sorted before the harness' loopback-only conflist, so this network is the one used.
    writeFileSync(join(inside.nori.cniConfDir, '05-model.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: `nori-model-${suffix}`,
      plugins: [
        { type: 'bridge', bridge, isGateway: true, ipMasq: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: '10.239.7.0/24' }]], dataDir: join(inside.dir, 'ipam') } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }));
    pod = await inside.pod({ name: 'model' });
    ctr = await inside.runLong(pod, 'c1', {
      linux: { resources: { memory_limit_in_bytes: 64 * 1024 * 1024, cpu_shares: 512, cpu_quota: 50_000, cpu_period: 100_000 } },
    }, 'echo ready; exec sleep 100000');
    podInfo = JSON.parse((await inside.nori.client.call('PodSandboxStatus', { pod_sandbox_id: pod.id, verbose: true })).info.info);
    ctrInfo = JSON.parse((await inside.nori.client.call('ContainerStatus', { container_id: ctr, verbose: true })).info.info);
  });

  after(async () => {
    await inside?.cleanup();
    spawnSync('ip', ['link', 'del', bridge]);
  });

  it('pod: each pinned namespace is the inode the container sees, none the host\'s', () => {
    const ns = podInfo.kernel.namespaces as Array<{ type: string; inode: number; sharedWith: string; path: string }>;
    assert.deepEqual(ns.map((n) => n.type).sort(), ['ipc', 'net', 'uts']);
    const pid = ctrInfo.pid as number;
    for (const n of ns) {
      assert.equal(n.inode, statSync(n.path).ino, `${n.type} pin`);
      assert.equal(n.inode, nsInode(pid, n.type), `${n.type} joined by the container`);
      assert.notEqual(n.inode, nsInode('self', n.type), 'not the host\'s (nori and this test run in the host namespaces)');
      assert.equal(n.sharedWith, 'pod');
    }
  });

  it('container: every namespace inode is /proc/PID/ns/*, judged against pod and host', () => {
    const pid = ctrInfo.pid as number;
    const podNs = Object.fromEntries((podInfo.kernel.namespaces as any[]).map((n) => [n.type, n.inode]));
    const ns = ctrInfo.kernel.namespaces as Array<{ type: string; inode: number; sharedWith: string }>;
    const types = readdirSync(`/proc/${pid}/ns`).filter((t) => !t.endsWith('_for_children'));
    assert.deepEqual(ns.map((n) => n.type).sort(), types.sort());
    for (const n of ns) {
      const k = nsInode(pid, n.type);
      assert.equal(n.inode, k, n.type);
      const expected = k === nsInode('self', n.type) ? 'host' : k === podNs[n.type] ? 'pod' : 'own';
      assert.equal(n.sharedWith, expected, n.type);
    }
    const by = Object.fromEntries(ns.map((n) => [n.type, n.sharedWith]));
    assert.equal(by.net, 'pod');
    assert.equal(by.mnt, 'own');
    assert.equal(by.pid, 'own');
  });

  it('container: usage values are the kernel\'s (read between two reads of the file)', async () => {
    const files = (ctrInfo.kernel.cgroup.hierarchies as any[]).flatMap((h) =>
      Object.keys(h.files).filter((n) => /usage|current|peak/.test(n)).map((n) => ({ dir: h.dir as string, name: n })));
    assert.ok(files.length >= 2, 'memory and cpu usage shown');
    for (const f of files) {
      const path = join(f.dir, f.name);
      for (let attempt = 0; ; attempt++) {
        const a = BigInt(readFileSync(path, 'utf8').trim());
        const info = JSON.parse((await inside.nori.client.call('ContainerStatus', { container_id: ctr, verbose: true })).info.info);
        const v = BigInt((info.kernel.cgroup.hierarchies as any[]).find((h) => h.dir === f.dir).files[f.name]);
        const b = BigInt(readFileSync(path, 'utf8').trim());
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        if (a === b || (v >= lo && v <= hi)) {
          assert.ok(v >= lo && v <= hi, `${path}: ${v} not within [${lo}, ${hi}]`);
          break;
        }
        // The file moved and the view lies outside [a, b]: memory can go down and up again between
        // reads, so try a few times before calling it wrong.
        assert.ok(attempt < 5, `${path}: view ${v}, kernel ${a} then ${b}`);
      }
    }
  });

  it('container: cgroup paths are /proc/PID/cgroup, limits and usage are the files\' contents', () => {
    const pid = ctrInfo.pid as number;
    const kernel = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')
      .map((l) => /^(\d+):([^:]*):(.*)$/.exec(l)!)
      .filter((m) => m[1] === '0' || (m[2] !== '' && !m[2]!.startsWith('name=')))
      .map((m) => ({ id: Number(m[1]), controllers: m[2] === '' ? [] : m[2]!.split(','), path: m[3] }));
    const view = ctrInfo.kernel.cgroup.hierarchies as Array<{ id: number; controllers: string[]; path: string; dir: string; files: Record<string, string> }>;
    assert.deepEqual(view.map(({ id, controllers, path }) => ({ id, controllers, path })), kernel);
    let limitsSeen = 0;
    for (const h of view) {
      for (const [name, value] of Object.entries(h.files)) {
        if (/usage|current|peak/.test(name)) continue; // below, bracketed by two reads
        assert.equal(value, readFileSync(join(h.dir, name), 'utf8').trim(), `${h.dir}/${name}`);
      }
      if (h.files['memory.limit_in_bytes']) {
        assert.equal(h.files['memory.limit_in_bytes'], String(64 * 1024 * 1024));
        limitsSeen++;
      }
      if (h.files['cpu.cfs_quota_us']) {
        assert.equal(h.files['cpu.cfs_quota_us'], '50000');
        assert.equal(h.files['cpu.shares'], '512');
        limitsSeen++;
      }
      if (h.files['memory.max']) {
        assert.equal(h.files['memory.max'], String(64 * 1024 * 1024));
        limitsSeen++;
      }
    }
    assert.ok(limitsSeen >= 2, 'memory and cpu limits shown');
    const pids = view.find((h) => h.controllers.includes('pids'));
    if (pids) assert.equal(pids.files['pids.current'], readFileSync(join(pids.dir, 'pids.current'), 'utf8').trim());
  });

  it('container: the overlay is what findmnt shows at <bundle>/rootfs', () => {
    const rootfs = join(ctrInfo.bundle, 'rootfs');
    const opts = sh('findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', '--mountpoint', rootfs]).trim();
    assert.match(opts, /^overlay /);
    const get = (k: string) => new RegExp(`(?:^|,)${k}=([^,]*)`).exec(opts.split(/\s+/)[1]!)![1]!;
    const o = ctrInfo.kernel.rootfs;
    assert.equal(o.mountPoint, rootfs);
    assert.deepEqual(o.lowerdirs, get('lowerdir').split(':'));
    assert.equal(o.upperdir, get('upperdir'));
    assert.equal(o.workdir, get('workdir'));
    // Resolved lower dirs are the image's layer diff directories, top first.
    for (const l of o.resolved.lowerdirs) assert.match(l, /\/overlay2\/[0-9a-f]{64}\/diff$/);
    assert.match(o.resolved.upperdir, new RegExp(`/overlay2/containers/${ctr}/upper$`));
  });

  it('container: pids are the cgroup\'s processes, init first in its own pid namespace', () => {
    const p = ctrInfo.kernel.pids;
    assert.equal(p.init, ctrInfo.pid);
    const mem = (ctrInfo.kernel.cgroup.hierarchies as any[]).find((h) => h.controllers.includes('pids') || h.controllers.includes('memory'));
    assert.deepEqual(p.inCgroup, procsUnder(mem.dir));
    assert.ok(p.inCgroup.includes(p.init));
    assert.match(readFileSync(`/proc/${p.init}/status`, 'utf8'), /^NSpid:\s+\d+\s+1$/m);
  });

  it('pod: the veth pair, the bridge and the addresses are what `ip` shows on each side', () => {
    const net = podInfo.kernel.network;
    const netns = podInfo.netnsPath as string;
    assert.equal(net.netns, netns);
    const inPod = sh('nsenter', [`--net=${netns}`, '--', 'ip', '-o', '-d', 'link', 'show', 'eth0']);
    const m = /^(\d+): eth0@if(\d+): .*link\/ether ([0-9a-f:]+)/.exec(inPod)!;
    assert.ok(m, inPod);
    const eth0 = net.interfaces.find((i: any) => i.name === 'eth0');
    assert.equal(eth0.ifindex, Number(m[1]));
    assert.equal(eth0.mac, m[3]);
    assert.equal(eth0.kind, 'veth');
    const addrs = sh('nsenter', [`--net=${netns}`, '--', 'ip', '-o', 'addr', 'show', 'dev', 'eth0']).split('\n')
      .map((l) => /\binet6? (\S+)/.exec(l)?.[1]).filter(Boolean);
    assert.deepEqual([...eth0.addresses].sort(), addrs.sort());
    assert.ok(eth0.addresses.includes(`${podInfo.cniResult.ips[0].address.split('/')[0]}/24`));
    // The host side: the link whose ifindex is eth0's peer index.
    const hostLine = sh('ip', ['-o', 'link', 'show']).split('\n').find((l) => l.startsWith(`${m[2]}: `))!;
    const hm = /^\d+: ([^@:]+)@if(\d+): .* master (\S+)/.exec(hostLine)!;
    assert.ok(hm, hostLine);
    assert.deepEqual(eth0.peer, { name: hm[1], ifindex: Number(m[2]), mac: /link\/ether ([0-9a-f:]+)/.exec(hostLine)![1], bridge: bridge });
    assert.equal(Number(hm[2]), Number(m[1]), 'the peer points back at eth0');
    assert.equal(hm[3], bridge);
    const brAddrs = sh('ip', ['-o', 'addr', 'show', 'dev', bridge]).split('\n').map((l) => /\binet6? (\S+)/.exec(l)?.[1]).filter(Boolean);
    assert.deepEqual(net.bridges, [{ name: bridge, ifindex: Number(/^(\d+):/.exec(sh('ip', ['-o', 'link', 'show', bridge]))![1]), addresses: brAddrs }]);
  });

  it('pod: the netfilter rules are exactly the iptables-save lines that name the pod, with their chains', () => {
    const nf = podInfo.kernel.netfilter;
    const ip = podInfo.cniResult.ips[0].address.split('/')[0] as string;
    assert.deepEqual(nf.ips, [ip]);
    const saved = sh('iptables-save', []);
    const lines = saved.split('\n');
    const rules = (nf.rules as any[]).filter((r) => r.source === 'iptables');
    for (const r of rules) assert.ok(lines.includes(r.rule), `in iptables-save: ${r.rule}`);
    // Every line naming the pod (its id in a CNI comment or its /32) is shown.
    const naming = lines.filter((l) => l.startsWith('-A ') && (l.includes(pod.id) || l.includes(`${ip}/32`)));
    assert.ok(naming.length > 0, 'ipMasq writes rules for the pod');
    for (const l of naming) assert.ok(rules.some((r) => r.rule === l), `shown: ${l}`);
    // The ipMasq chain the pod's POSTROUTING rule jumps to is shown whole.
    const jump = naming.map((l) => / -j (CNI-[0-9a-f]+)\b/.exec(l)?.[1]).find(Boolean)!;
    assert.ok(jump, 'a per-pod CNI chain');
    const chainRules = lines.filter((l) => l.startsWith(`-A ${jump} `));
    for (const l of chainRules) assert.ok(rules.some((r) => r.rule === l && r.chain === jump && r.table === 'nat'), l);
  });

  it('pod: a rule added or removed after an earlier ask shows in the next ask (no stale listing)', async () => {
    const ip = podInfo.cniResult.ips[0].address.split('/')[0] as string;
    // In the nat table, which ipMasq already made: adding a filter rule would create that table.
    const rule = ['POSTROUTING', '-s', `${ip}/32`, '-m', 'comment', '--comment', 'nori-verbose-test', '-j', 'RETURN'];
    const ask = async () => JSON.parse((await inside.nori.client.call('PodSandboxStatus', { pod_sandbox_id: pod.id, verbose: true })).info.info).kernel.netfilter.rules as any[];
    const shows = (rules: any[]) => rules.some((r) => r.source === 'iptables' && r.table === 'nat' && r.chain === 'POSTROUTING' && r.rule.includes('nori-verbose-test'));
    assert.equal(shows(await ask()), false);
    sh('iptables', ['-t', 'nat', '-I', ...rule]);
    try {
      assert.equal(shows(await ask()), true, 'the added rule is listed');
    } finally {
      sh('iptables', ['-t', 'nat', '-D', ...rule]);
    }
    assert.equal(shows(await ask()), false, 'the removed rule is gone');
  });

  it('nori inspect draws the same values through the CRI socket', () => {
    const run = (id: string) => execFileSync(process.execPath, [NORI_BIN, 'inspect', id, '--listen', `unix://${inside.nori.socket}`], { encoding: 'utf8' });
    const podText = run(pod.id.slice(0, 16));
    assert.match(podText, new RegExp(`^pod inside/model ${pod.id.slice(0, 12)} READY `));
    for (const n of podInfo.kernel.namespaces) assert.ok(podText.includes(`${n.type}:[${n.inode}]`), n.type);
    const eth0 = podInfo.kernel.network.interfaces[0];
    assert.ok(podText.includes(`⇄  ${eth0.peer.name} on the host  →  bridge ${bridge}`), podText);
    const ctrText = run(ctr);
    assert.match(ctrText, /^container c1 /);
    assert.ok(ctrText.includes(`upper  ${ctrInfo.kernel.rootfs.resolved.upperdir}`));
    assert.ok(ctrText.includes(`processes: init ${ctrInfo.pid};`));
    for (const n of ctrInfo.kernel.namespaces) assert.ok(ctrText.includes(`${n.type}:[${n.inode}]`), n.type);
  });

  it('pod: pids are the processes under the pod\'s cgroup', () => {
    const h = (podInfo.kernel.cgroup.hierarchies as any[]).find((x) => x.controllers.includes('pids') || x.controllers.includes('memory'));
    assert.ok(h, 'the pod cgroup exists in the kernel');
    assert.deepEqual(podInfo.kernel.pids.inCgroup, procsUnder(h.dir));
    assert.ok(podInfo.kernel.pids.inCgroup.includes(ctrInfo.pid));
  });
});
