// Pure parts of the container subsystem: conmon's sync message, cgroup files (v1 and v2 layouts
// in a temp dir), /proc/self/limits, resources JSON for `runc update`, filters, the store.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSyncMessage } from '../../../src/runtime/conmon';
import { CgroupReader, parseKeyed } from '../../../src/container/cgroup_stats';
import { readHardRlimits } from '../../../src/container/node_defaults';
import { buildResources } from '../../../src/container/spec/resources';
import { matchesFilter } from '../../../src/container/views';
import { ContainerStore, stateOf, type ContainerRow } from '../../../src/store/container_store';
import { openDb } from '../../../src/store/db';
import { ContainerConfig, ContainerState, LinuxContainerResources } from '../../../src/gen/api';
import { mkdirp } from '../../../src/util/fs';
import { KeyedLock } from '../../../src/util/keyed_lock';

function row(over: Partial<ContainerRow> = {}): ContainerRow {
  return {
    id: 'a'.repeat(64), sandboxId: 's'.repeat(64), nameKey: 'c_p_ns_u_0', imageRef: 'busybox', imageId: 'sha256:' + '1'.repeat(64),
    config: ContainerConfig.fromPartial({ metadata: { name: 'c', attempt: 0 }, labels: { app: 'x' } }),
    handler: 'runc', bundle: '/b', logPath: '', cgroupPath: '', stopSignal: '', userJson: '',
    createdAt: 1n, startedAt: 0n, finishedAt: 0n, exitCode: 0, reason: '', message: '', pid: 1, unknown: false, resources: '',
    ...over,
  };
}

describe('container runtime parsing', () => {
  it('parses conmon sync messages (api v1 "data" and the old "pid")', () => {
    assert.deepEqual(parseSyncMessage('{"data": 22144}\n'), { pid: 22144 });
    assert.deepEqual(parseSyncMessage('{"pid": 7}\n'), { pid: 7 });
    assert.deepEqual(parseSyncMessage('{"data": -1, "message": "exec: no such file"}\n'), { pid: -1, message: 'exec: no such file' });
    assert.throws(() => parseSyncMessage(''), /without reporting a pid/);
  });

  it('reads cgroup v1 counters and the OOM-kill count', () => {
    const root = mkdtempSync('/tmp/nori-cg-');
    try {
      const cg = '/pod/ctr';
      mkdirp(join(root, 'cpuacct', cg));
      mkdirp(join(root, 'memory', cg));
      writeFileSync(join(root, 'cpuacct', cg, 'cpuacct.usage'), '123456789\n');
      writeFileSync(join(root, 'memory', cg, 'memory.usage_in_bytes'), '1000\n');
      writeFileSync(join(root, 'memory', cg, 'memory.stat'), 'cache 5\ntotal_inactive_file 300\ntotal_rss 600\ntotal_pgfault 9\ntotal_pgmajfault 2\n');
      writeFileSync(join(root, 'memory', cg, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
      const r = new CgroupReader(root);
      assert.equal(r.v2, false);
      assert.deepEqual(r.sample(cg), { cpuUsageNs: 123456789n, memoryUsage: 1000n, workingSet: 700n, rss: 600n, pageFaults: 9n, majorPageFaults: 2n });
      assert.equal(r.oomKills(cg), 1);
      assert.equal(r.oomKills('/missing'), 0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads cgroup v2 counters (usage_usec in ns, working set floored at 0)', () => {
    const root = mkdtempSync('/tmp/nori-cg-');
    try {
      writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory\n');
      const cg = '/pod/ctr';
      mkdirp(join(root, cg));
      writeFileSync(join(root, cg, 'cpu.stat'), 'usage_usec 42\nuser_usec 40\n');
      writeFileSync(join(root, cg, 'memory.current'), '100\n');
      writeFileSync(join(root, cg, 'memory.stat'), 'anon 50\ninactive_file 400\npgfault 3\npgmajfault 1\n');
      writeFileSync(join(root, cg, 'memory.events'), 'low 0\nhigh 0\nmax 2\noom 1\noom_kill 2\n');
      const r = new CgroupReader(root);
      assert.equal(r.v2, true);
      assert.deepEqual(r.sample(cg), { cpuUsageNs: 42000n, memoryUsage: 100n, workingSet: 0n, rss: 50n, pageFaults: 3n, majorPageFaults: 1n });
      assert.equal(r.oomKills(cg), 2);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('parses keyed files and /proc/self/limits', () => {
    assert.deepEqual(parseKeyed('a 1\nb x\n c 3 \n'), { a: 1n, c: 3n });
    // wanted keys: whole keys at a line's start only, as memory.stat names overlap
    const stat = 'anon_thp 7\nanon 100\nfile 5\ntotal_rss_huge 9\ntotal_rss 300\npgmajfault 2\npgfault 40\nbad 12x\n';
    assert.deepEqual(parseKeyed(stat, new Set(['anon', 'total_rss', 'pgfault', 'pgmajfault', 'bad', 'absent', 'fault'])), {
      anon: 100n, total_rss: 300n, pgfault: 40n, pgmajfault: 2n,
    });
    assert.deepEqual(parseKeyed('usage_usec 18446744073709551615', new Set(['usage_usec'])), { usage_usec: 18446744073709551615n });
    const limits = readHardRlimits(
      'Limit                     Soft Limit           Hard Limit           Units     \n' +
        'Max open files            1024                 20000                files     \n' +
        'Max stack size            8388608              unlimited            bytes     \n',
    );
    assert.equal(limits.RLIMIT_NOFILE, 20000);
    assert.equal(limits.RLIMIT_STACK, 18446744073709551615);
  });

  it('maps CRI resources to the runc update JSON: swap follows the memory limit where swap is accounted, as at create', () => {
    const r = LinuxContainerResources.fromPartial({ cpuShares: 512n, cpuQuota: 20000n, cpuPeriod: 100000n, memoryLimitInBytes: 64n << 20n, cpusetCpus: '0' });
    const env = { hugetlbAvailable: false, swapAvailable: true, cgroupV2: false };
    assert.deepEqual(buildResources(r, env, []), { cpu: { shares: 512, quota: 20000, period: 100000, cpus: '0' }, memory: { limit: 64 << 20, swap: 64 << 20 } });
    assert.deepEqual(buildResources(r, { ...env, swapAvailable: false }, []).memory, { limit: 64 << 20 });
    assert.deepEqual(buildResources(LinuxContainerResources.fromPartial({}), env, []), {});
    // cgroup v1 has no unified keys: dropped with a warning rather than failing runc update
    const warnings: string[] = [];
    assert.deepEqual(buildResources(LinuxContainerResources.fromPartial({ unified: { 'memory.high': '1000' } }), env, warnings), {});
    assert.match(warnings.join(), /unified resources need cgroup v2/);
  });

  it('derives state from timestamps and filters rows', () => {
    assert.equal(stateOf(row()), ContainerState.CONTAINER_CREATED);
    assert.equal(stateOf(row({ startedAt: 2n })), ContainerState.CONTAINER_RUNNING);
    assert.equal(stateOf(row({ startedAt: 2n, finishedAt: 3n })), ContainerState.CONTAINER_EXITED);
    assert.equal(stateOf(row({ unknown: true })), ContainerState.CONTAINER_UNKNOWN);
    const r = row({ startedAt: 2n });
    assert.ok(matchesFilter(r, { id: 'aaa', podSandboxId: '', labelSelector: {}, state: { state: ContainerState.CONTAINER_RUNNING } }));
    assert.ok(!matchesFilter(r, { id: '', podSandboxId: '', labelSelector: {}, state: { state: ContainerState.CONTAINER_EXITED } }));
    assert.ok(!matchesFilter(r, { id: 'b', podSandboxId: '', labelSelector: {} }));
    assert.ok(!matchesFilter(r, { id: '', podSandboxId: 't', labelSelector: {} }));
    assert.ok(matchesFilter(r, { id: '', podSandboxId: 'sss', labelSelector: { app: 'x' } }));
    assert.ok(!matchesFilter(r, { id: '', podSandboxId: '', labelSelector: { app: 'y' } }));
  });

  it('stores rows durably with the config byte for byte', () => {
    const dir = mkdtempSync('/tmp/nori-cs-');
    try {
      const db = openDb(dir);
      const store = new ContainerStore(db);
      const cfg = ContainerConfig.fromPartial({
        metadata: { name: 'c', attempt: 1 },
        labels: { 'é/ü': 'ß  x' },
        annotations: { a: '\u2603' },
        envs: [{ key: 'K', value: Buffer.from([0xff, 0x00, 0x41]) }],
      });
      store.insert(row({ config: cfg, createdAt: 1700000000123456789n }));
      store.update('a'.repeat(64), { startedAt: 1700000000223456789n, pid: 42 });
      assert.throws(() => store.insert(row({ id: 'b'.repeat(64) })), /UNIQUE/);
      db.close();
      const db2 = openDb(dir);
      const again = new ContainerStore(db2).get('a'.repeat(64))!;
      assert.deepEqual(again.config.labels, { 'é/ü': 'ß  x' });
      assert.deepEqual(again.config.annotations, { a: '\u2603' });
      assert.deepEqual([...again.config.envs[0]!.value], [0xff, 0x00, 0x41]);
      assert.equal(again.createdAt, 1700000000123456789n);
      assert.equal(again.startedAt, 1700000000223456789n);
      assert.equal(again.pid, 42);
      assert.equal(new ContainerStore(db2).find('aaaa')?.id, 'a'.repeat(64));
      db2.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serializes per key', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const slow = lock.run('k', async () => {
      await new Promise((r) => setTimeout(r, 30));
      order.push('first');
    });
    const fast = lock.run('k', async () => {
      order.push('second');
    });
    const other = lock.run('j', async () => {
      order.push('other');
    });
    await Promise.all([slow, fast, other]);
    assert.deepEqual(order, ['other', 'first', 'second']);
  });
});
