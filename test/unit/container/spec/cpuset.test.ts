import { strict as assert } from 'node:assert';
import { InvalidArgumentError } from '../../../../src/errors';
import { LinuxContainerResources } from '../../../../src/gen/api';
import { ociResources } from '../../../../src/container/oci_resources';
import { buildResources, cpusetList } from '../../../../src/container/spec/resources';

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

  it('both the create and the update converters check them before any runtime sees them', () => {
    const r = LinuxContainerResources.fromPartial({ cpusetCpus: '0-1', cpusetMems: 'x' });
    assert.throws(() => ociResources(r), (e: Error) => e instanceof InvalidArgumentError && e.message.includes('cpuset_mems'));
    assert.throws(() => buildResources(r, { hugetlbAvailable: false, swapAvailable: false, cgroupV2: false }, []), InvalidArgumentError);
    assert.deepEqual(ociResources(LinuxContainerResources.fromPartial({ cpusetCpus: '0-1' })), { cpu: { cpus: '0-1' } });
  });
});
