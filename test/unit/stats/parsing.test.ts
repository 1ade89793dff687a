// Stats parsing against fixture cgroup trees (v1 and v2 layouts built in a temp dir: this
// machine runs v1), /proc/net/dev text, the CPU rate, chunking and the cgroup writes of a resize.

import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupReader } from '../../../src/container/cgroup_stats';
import { chunkBySize } from '../../../src/cri/list_streams';
import { cgroupWrites } from '../../../src/cri/update_pod_sandbox_resources';
import { ContainerStats, LinuxContainerResources } from '../../../src/gen/api';
import { CgroupExtraReader } from '../../../src/stats/cgroup_extra';
import { CpuRates } from '../../../src/stats/cpu_rate';
import { parseNetDev } from '../../../src/stats/net_dev';
import { StatsSampler, netDevViaProcess, podCgroupPath } from '../../../src/stats/sampler';
import { FakeSys } from '../../../src/sys/fake';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync('/tmp/nori-cg-fixture-');
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), text);
  }
  return root;
}

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
  eth0: 1234567    890    3    4    0     0          0         1   765432     321    5    6    0     0       0          0
`;

describe('stats: cgroup v2 fixture', () => {
  let root: string;
  before(() => {
    root = tree({
      'cgroup.controllers': 'cpu memory pids\n',
      'pod/ctr/cpu.stat': 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n',
      'pod/ctr/memory.current': '104857600\n',
      'pod/ctr/memory.stat': 'anon 73400320\nfile 31457280\ninactive_file 20971520\npgfault 1234\npgmajfault 12\n',
      'pod/ctr/memory.max': '268435456\n',
      'pod/ctr/memory.swap.current': '4096\n',
      'pod/ctr/memory.swap.max': 'max\n',
      'pod/ctr/memory.events': 'low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n',
      'pod/ctr/pids.current': '7\n',
    });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reads CPU, memory, working set, faults, OOM kills, limit, swap and pids', () => {
    const r = new CgroupReader(root);
    assert.equal(r.v2, true);
    const s = r.sample('/pod/ctr');
    assert.equal(s.cpuUsageNs, 2_500_000_000n);
    assert.equal(s.memoryUsage, 104857600n);
    assert.equal(s.workingSet, 104857600n - 20971520n);
    assert.equal(s.rss, 73400320n);
    assert.equal(s.pageFaults, 1234n);
    assert.equal(s.majorPageFaults, 12n);
    assert.equal(r.oomKills('/pod/ctr'), 1);
    const x = new CgroupExtraReader(root, true).sample('/pod/ctr', s.memoryUsage);
    assert.deepEqual(x, { memoryLimit: 268435456n, swapUsage: 4096n, swapLimit: undefined, pids: 7n });
  });

  it('completes ContainerStats with nano cores between samples, available bytes and swap', () => {
    const sampler = new StatsSampler(new CgroupReader(root), new FakeSys());
    const mk = (ts: bigint, usage: bigint) =>
      ContainerStats.fromPartial({ cpu: { timestamp: ts, usageCoreNanoSeconds: { value: usage } }, memory: { timestamp: ts, workingSetBytes: { value: 100n }, usageBytes: { value: 150n } } });
    const first = sampler.completeContainer('c', '/pod/ctr', mk(1_000_000_000n, 5_000_000_000n));
    assert.equal(first.cpu!.usageNanoCores!.value, 0n, 'first sample: no rate yet');
    assert.equal(first.memory!.availableBytes!.value, 268435456n - 100n);
    assert.equal(first.swap!.swapUsageBytes!.value, 4096n);
    const second = sampler.completeContainer('c', '/pod/ctr', mk(3_000_000_000n, 6_000_000_000n));
    assert.equal(second.cpu!.usageNanoCores!.value, 500_000_000n, '1 s of CPU over 2 s = half a core');
  });
});

describe('stats: cgroup v1 fixture', () => {
  it('reads limits (ignoring "unlimited"), swap from memsw and pids per controller', () => {
    const root = tree({
      'memory/memory.memsw.usage_in_bytes': '0\n',
      'memory/p/memory.limit_in_bytes': '9223372036854771712\n',
      'memory/p/memory.memsw.usage_in_bytes': '5000\n',
      'memory/p/memory.memsw.limit_in_bytes': '9223372036854771712\n',
      'memory/q/memory.limit_in_bytes': '1048576\n',
      'pids/p/pids.current': '3\n',
    });
    try {
      const x = new CgroupExtraReader(root, false);
      const p = x.sample('/p', 4000n);
      assert.equal(p.memoryLimit, undefined);
      assert.equal(p.swapUsage, 1000n);
      assert.equal(p.pids, 3n);
      assert.equal(x.sample('/q', undefined).memoryLimit, 1048576n);
      assert.equal(x.sample('/p', 4000n, false).pids, undefined, 'containers skip the task count');
      rmSync(join(root, 'memory/memory.memsw.usage_in_bytes'));
      assert.equal(new CgroupExtraReader(root, false).sample('/p', 4000n).swapUsage, undefined, 'no swap accounting: no swap figure');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('stats: pod network and identity', () => {
  it('parses /proc/net/dev', () => {
    const ifs = parseNetDev(NET_DEV);
    assert.deepEqual(ifs.map((i) => i.name), ['lo', 'eth0']);
    const eth0 = ifs[1]!;
    assert.equal(eth0.rxBytes, 1234567n);
    assert.equal(eth0.rxPackets, 890n);
    assert.equal(eth0.rxErrors, 3n);
    assert.equal(eth0.rxDropped, 4n);
    assert.equal(eth0.txBytes, 765432n);
    assert.equal(eth0.txPackets, 321n);
    assert.equal(eth0.txErrors, 5n);
    assert.equal(eth0.txDropped, 6n);
    assert.deepEqual(parseNetDev('garbage\nx: 1 2 3\n'), []);
  });

  it('reports the pod netns interfaces but lo, eth0 as the default, and none for host network', async () => {
    const sys = new FakeSys();
    await sys.pinNamespaces({ targets: { net: '/run/test/netns' } });
    sys.netDev.set('/run/test/netns', NET_DEV);
    const sampler = new StatsSampler(new CgroupReader('/nonexistent'), sys);
    const id = { id: 'p1', metadata: { name: 'n', uid: 'u', namespace: 'ns', attempt: 0 }, labels: {}, annotations: {}, cgroupParent: '/kubepods/podx' };
    const s = sampler.pod({ ...id, netns: '/run/test/netns' }, [], 5n);
    assert.deepEqual(s.linux!.network!.interfaces.map((i) => i.name), ['eth0']);
    assert.equal(s.linux!.network!.defaultInterface!.name, 'eth0');
    assert.equal(s.linux!.network!.defaultInterface!.rxBytes!.value, 1234567n);
    assert.equal(sampler.pod(id, [], 5n).linux!.network, undefined);
  });

  it('reads /proc/PID/net/dev of a process in the netns instead of entering it', () => {
    const sys = new FakeSys();
    const sampler = new StatsSampler(new CgroupReader('/nonexistent'), sys);
    const mine = sampler.interfaces('/proc/self/ns/net', [999_999_999, process.pid]);
    assert.ok(mine, 'read through this process');
    assert.deepEqual(mine.map((i) => i.name).sort(), parseNetDev(readFileSync('/proc/net/dev', 'utf8')).map((i) => i.name).filter((n) => n !== 'lo').sort());
    assert.equal(sys.calls.filter((c) => c.op === 'readNetDevInNetns').length, 0);
    // A pid in another netns (pid 1's own, compared against a file that is not a namespace) is not used.
    assert.equal(netDevViaProcess('/etc/hostname', [process.pid]), undefined);
  });

  it('maps cgroup parents to cgroupfs paths', () => {
    assert.equal(podCgroupPath('/kubepods/burstable/pod1'), '/kubepods/burstable/pod1');
    assert.equal(podCgroupPath('kubepods-burstable-pod1.slice'), '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice');
    assert.equal(podCgroupPath('/a/../b'), '');
  });
});

describe('stats: CPU rate', () => {
  it('is 0 first, the rate after, kept when no time passed, 0 after a counter reset', () => {
    const r = new CpuRates();
    assert.equal(r.rate('a', { at: 0n, usageNs: 0n }), 0n);
    assert.equal(r.rate('a', { at: 1_000_000_000n, usageNs: 2_000_000_000n }), 2_000_000_000n);
    assert.equal(r.rate('a', { at: 1_000_000_000n, usageNs: 2_000_000_000n }), 2_000_000_000n);
    assert.equal(r.rate('a', { at: 2_000_000_000n, usageNs: 10n }), 0n);
    assert.equal(r.rate('b', { at: 2_000_000_000n, usageNs: 10n }), 0n, 'keys are independent');
  });
});

describe('streamed lists: chunking', () => {
  it('keeps every item once, in order, each chunk under the limit unless one item alone exceeds it', () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ i, size: i === 500 ? 5000 : 100 }));
    const chunks = chunkBySize(items, (x) => x.size, 1000);
    assert.deepEqual(chunks.flat().map((x) => x.i), items.map((x) => x.i));
    for (const c of chunks) assert.ok(c.length === 1 || c.reduce((n, x) => n + x.size + 6, 0) <= 1000);
    assert.ok(chunks.some((c) => c.length === 1 && c[0]!.i === 500));
    assert.deepEqual(chunkBySize([], () => 1), []);
  });
});

describe('UpdatePodSandboxResources: cgroup writes', () => {
  const res = LinuxContainerResources.fromPartial({ cpuShares: 512n, cpuQuota: 50000n, cpuPeriod: 100000n, memoryLimitInBytes: 268435456n, unified: { 'memory.high': '200000000' } });
  it('v1: shares, CFS period/quota, memory limit, per controller', () => {
    assert.deepEqual(cgroupWrites(res, false), [
      ['cpu', 'cpu.shares', '512'],
      ['cpu', 'cpu.cfs_period_us', '100000'],
      ['cpu', 'cpu.cfs_quota_us', '50000'],
      ['memory', 'memory.limit_in_bytes', '268435456'],
    ]);
  });
  it('v2: weight converted from shares, cpu.max, memory.max, unified keys', () => {
    assert.deepEqual(cgroupWrites(res, true), [
      ['', 'cpu.weight', '20'],
      ['', 'cpu.max', '50000 100000'],
      ['', 'memory.max', '268435456'],
      ['', 'memory.high', '200000000'],
    ]);
  });
});
