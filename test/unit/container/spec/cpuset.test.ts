import { strict as assert } from 'node:assert';
import { InvalidArgumentError } from '../../../../src/errors';
import { LinuxContainerResources } from '../../../../src/gen/api';
import { buildResources, cfsPeriod, cfsQuota, cpusetList } from '../../../../src/container/spec/resources';

// What the kernel's bitmap_parselist (lib/bitmap-str.c, Documentation/admin-guide/cgroup-v1/cpusets.rst)
// takes for cpuset.cpus and cpuset.mems, and what it answers EINVAL to.
describe('cpuset lists (CreateContainer and UpdateContainerResources)', () => {
  for (const ok of ['0', '0-3', '0-3,6', '1,3,5', '0-7:2/4', '0-0']) {
    it(`takes ${ok}`, () => assert.equal(cpusetList(ok, 'cpuset_cpus'), ok));
  }
  for (const bad of ['3-1', 'a', '0-', '-1', '0,,1', '0 1', '0-3:4/2', '0-3:1/0', '\u0018\u0002 @', '1'.repeat(5000)]) {
    it(`refuses ${JSON.stringify(bad.slice(0, 12))} as InvalidArgument`, () => {
      assert.throws(() => cpusetList(bad, 'cpuset_cpus'), InvalidArgumentError);
    });
  }

  it('the resources converter (create and update) checks them before any runtime sees them', () => {
    const env = { hugetlbAvailable: false, swapAvailable: false, cgroupV2: false };
    const r = LinuxContainerResources.fromPartial({ cpusetCpus: '0-1', cpusetMems: 'x' });
    assert.throws(() => buildResources(r, env, []), (e: Error) => e instanceof InvalidArgumentError && e.message.includes('cpuset_mems'));
    assert.deepEqual(buildResources(LinuxContainerResources.fromPartial({ cpusetCpus: '0-1' }), env, []), { cpu: { cpus: '0-1' } });
  });
});

// kernel/sched/core.c: tg_set_cfs_bandwidth refuses a period outside 1 ms..1 s and a quota under 1 ms (negative: no limit).
describe('CFS quota and period (CreateContainer and UpdateContainerResources)', () => {
  it('takes what the kernel takes', () => {
    for (const q of [-1n, -5n, 1000n, 50_000n, 10n ** 12n]) assert.equal(cfsQuota(q), Number(q));
    for (const p of [1000n, 100_000n, 1_000_000n]) assert.equal(cfsPeriod(p), Number(p));
  });
  it('refuses what it answers EINVAL to, before the runtime writes it', () => {
    for (const q of [1n, 8n, 999n]) assert.throws(() => cfsQuota(q), InvalidArgumentError);
    for (const p of [-1n, 1n, 999n, 1_000_001n]) assert.throws(() => cfsPeriod(p), InvalidArgumentError);
    assert.throws(() => buildResources(LinuxContainerResources.fromPartial({ cpuQuota: 8n }), { hugetlbAvailable: false, swapAvailable: false, cgroupV2: false }, []), InvalidArgumentError);
    assert.throws(() => buildResources(LinuxContainerResources.fromPartial({ cpuPeriod: 5n }), { hugetlbAvailable: false, swapAvailable: false, cgroupV2: false }, []), InvalidArgumentError);
  });
});
