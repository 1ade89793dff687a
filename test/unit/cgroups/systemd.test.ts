import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CgroupManager } from '../../../src/cgroups/manager';
import { containerCgroupDir, defaultPodParent, toCgroupfsPath } from '../../../src/cgroups/names';
import { encodeProps, SystemdUnits, type UnitProperty } from '../../../src/cgroups/systemd';
import { sliceResources } from '../../../src/cgroups/systemd_resources';
import { LinuxContainerResources } from '../../../src/gen/api';

/** systemd as far as cgroupfs shows it: slices and scopes appear as dirs in a temp root. */
class FakeSystemd extends SystemdUnits {
  calls: string[] = [];
  override async startSlice(slice: string): Promise<void> {
    this.calls.push(`start ${slice}`);
    mkdirSync(this.sliceDir(slice), { recursive: true });
  }
  override async startScope(scope: string, slice: string, pid: number): Promise<void> {
    this.calls.push(`scope ${scope} in ${slice} pid ${pid}`);
    mkdirSync(path.join(this.sliceDir(slice), scope));
  }
  override async stop(unit: string, cgroupDir?: string): Promise<void> {
    this.calls.push(`stop ${unit}`);
    if (cgroupDir) rmSync(cgroupDir, { recursive: true });
  }
  override async setProperties(unit: string, props: UnitProperty[]): Promise<void> {
    this.calls.push(`set ${unit} ${props.map((p) => p[0]).join(',')}`);
  }
}

describe('cgroups: the systemd driver', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'nori-cgsd-'));
    writeFileSync(path.join(root, 'cgroup.controllers'), 'cpu memory pids\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("names a container's cgroup dir as runc places it with either driver", () => {
    assert.equal(containerCgroupDir('/nori/pod1/nori-abc'), '/nori/pod1/nori-abc');
    assert.equal(containerCgroupDir('kubepods-burstable-pod1.slice:nori:abc'), '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/nori-abc.scope');
    assert.equal(containerCgroupDir(':nori:abc'), '/system.slice/nori-abc.scope');
  });

  it('gives pods without a parent a slice under the prefix slice (systemd) or a dir (cgroupfs)', () => {
    assert.equal(defaultPodParent('cgroupfs', 'nori-x', 'ab'), '/nori-x/podab');
    assert.equal(defaultPodParent('systemd', 'nori-x', 'ab'), 'nori_x-podab.slice');
    assert.equal(toCgroupfsPath(defaultPodParent('systemd', 'nori-x', 'ab')), '/nori_x.slice/nori_x-podab.slice');
  });

  it("encodes unit properties in busctl's a(sv) notation", () => {
    assert.deepEqual(encodeProps([['Description', 's', 'x y'], ['PIDs', 'au', [7, 8]], ['MemoryAccounting', 'b', true], ['MemoryMax', 't', 5n]]),
      ['4', 'Description', 's', 'x y', 'PIDs', 'au', '2', '7', '8', 'MemoryAccounting', 'b', 'true', 'MemoryMax', 't', '5']);
  });

  it("converts pod resources to slice properties as runc does, the rest to files", () => {
    const r = LinuxContainerResources.fromPartial({ cpuShares: 1024n, cpuQuota: 150_001n, cpuPeriod: 100_000n, memoryLimitInBytes: 1n << 29n, cpusetCpus: '0', unified: { 'pids.max': '50', 'memory.high': '100' } });
    const { props, files } = sliceResources(r);
    assert.deepEqual(props, [
      ['CPUWeight', 't', 1n + (1022n * 9999n) / 262142n],
      ['CPUQuotaPeriodUSec', 't', 100_000n],
      ['CPUQuotaPerSecUSec', 't', 1_510_000n], // 1500010 us/s rounded up to 10 ms
      ['MemoryMax', 't', 1n << 29n],
      ['TasksMax', 't', 50n],
    ]);
    assert.deepEqual(files, [['cpuset.cpus', '0'], ['memory.high', '100']]);
  });

  it('makes a missing pod slice (and its missing parents) through systemd, and stops only empty ones', async () => {
    const sd = new FakeSystemd({ root });
    const m = new CgroupManager({ root, driver: 'systemd', systemd: sd });
    const created = await m.createParent(toCgroupfsPath('nori_t-pod1.slice'));
    assert.deepEqual(created, ['systemd:nori_t.slice', 'systemd:nori_t-pod1.slice']);
    assert.deepEqual(sd.calls, ['start nori_t-pod1.slice']);
    const placed = await m.placeProcess('/nori_t.slice/nori_t-pod1.slice', 'nori-podinit', 'pod1', 42);
    assert.deepEqual(placed, ['systemd:nori_t-pod1.slice/nori-podinit-pod1.scope']);
    // A second pod under the same prefix slice keeps it alive.
    await m.createParent(toCgroupfsPath('nori_t-pod2.slice'));
    sd.calls = [];
    assert.deepEqual(await m.removeDirs([...created, ...placed]), ['systemd:nori_t.slice']);
    assert.deepEqual(sd.calls, ['stop nori-podinit-pod1.scope', 'stop nori_t-pod1.slice']);
  });

  it("leaves a slice kubelet made alone, and refuses a parent that is no slice", async () => {
    mkdirSync(path.join(root, 'kubepods.slice', 'kubepods-pod9.slice'), { recursive: true });
    const sd = new FakeSystemd({ root });
    const m = new CgroupManager({ root, driver: 'systemd', systemd: sd });
    assert.deepEqual(await m.createParent('/kubepods.slice/kubepods-pod9.slice'), []);
    assert.deepEqual(sd.calls, []);
    await assert.rejects(m.createParent('/kubepods/pod9'), /must be a systemd slice/);
  });
});

describe('cgroup I/O counters (io.stat, blkio)', () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reads v2 io.stat and v1 blkio throttle counters per device', async () => {
    const { CgroupReader } = await import('../../../src/container/cgroup_stats');
    root = mkdtempSync(path.join(os.tmpdir(), 'nori-io-'));
    writeFileSync(path.join(root, 'cgroup.controllers'), 'io\n');
    mkdirSync(path.join(root, 'pod', 'c'), { recursive: true });
    writeFileSync(path.join(root, 'pod', 'c', 'io.stat'), '254:0 rbytes=4096 wbytes=8388608 rios=1 wios=64 dbytes=0 dios=0\n7:1 rbytes=10 wbytes=0 rios=2 wios=0 dbytes=0 dios=0\n');
    assert.deepEqual(new CgroupReader(root).io('/pod/c'), [
      { majorMinor: '254:0', readBytes: 4096n, writeBytes: 8388608n, reads: 1n, writes: 64n },
      { majorMinor: '7:1', readBytes: 10n, writeBytes: 0n, reads: 2n, writes: 0n },
    ]);
    rmSync(root, { recursive: true });
    root = mkdtempSync(path.join(os.tmpdir(), 'nori-io-'));
    mkdirSync(path.join(root, 'blkio', 'pod', 'c'), { recursive: true });
    writeFileSync(path.join(root, 'blkio', 'pod', 'c', 'blkio.throttle.io_service_bytes'), '8:0 Read 100\n8:0 Write 200\n8:0 Sync 300\n8:0 Total 300\nTotal 300\n');
    writeFileSync(path.join(root, 'blkio', 'pod', 'c', 'blkio.throttle.io_serviced'), '8:0 Read 1\n8:0 Write 2\nTotal 3\n');
    assert.deepEqual(new CgroupReader(root).io('/pod/c'), [{ majorMinor: '8:0', readBytes: 100n, writeBytes: 200n, reads: 1n, writes: 2n }]);
  });
});
