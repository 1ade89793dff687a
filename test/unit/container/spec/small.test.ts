// Table tests for masked paths, namespaces, devices and resources.

import { strict as assert } from 'node:assert';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, buildPaths } from '../../../../src/container/spec/masked_paths';
import { buildNamespaces } from '../../../../src/container/spec/namespaces';
import { DEFAULT_DEVICE_RULES, buildDevices, normalizePermissions } from '../../../../src/container/spec/devices';
import { buildResources, cgroupsPath, clampOomScoreAdj } from '../../../../src/container/spec/resources';
import { FailedPreconditionError, InvalidArgumentError } from '../../../../src/errors';
import { Device, LinuxContainerResources, type DeepPartial } from '../../../../src/gen/api';
import type { HostDevice } from '../../../../src/container/spec/types';
import { sandbox } from './fixtures';

describe('container spec: masked and readonly paths', () => {
  it('defaults, overrides, privileged', () => {
    assert.deepEqual(buildPaths([], [], false), { maskedPaths: DEFAULT_MASKED_PATHS, readonlyPaths: DEFAULT_READONLY_PATHS });
    assert.deepEqual(buildPaths(['/proc/x'], ['/proc/y'], false), { maskedPaths: ['/proc/x'], readonlyPaths: ['/proc/y'] });
    assert.deepEqual(buildPaths(['/proc/x'], [], true), { maskedPaths: [], readonlyPaths: [] });
  });
});

describe('container spec: namespaces', () => {
  const sb = sandbox();
  const cases: { name: string; sb: ReturnType<typeof sandbox>; pid: 'POD' | 'CONTAINER' | 'NODE' | 'TARGET'; v2?: boolean; want: unknown }[] = [
    {
      name: 'pod namespaces, own pid', sb, pid: 'CONTAINER',
      want: [
        { type: 'network', path: sb.nsPaths.net }, { type: 'ipc', path: sb.nsPaths.ipc }, { type: 'uts', path: sb.nsPaths.uts },
        { type: 'mount' }, { type: 'pid' },
      ],
    },
    {
      name: 'POD pid, cgroup v2', sb, pid: 'POD', v2: true,
      want: [
        { type: 'network', path: sb.nsPaths.net }, { type: 'ipc', path: sb.nsPaths.ipc }, { type: 'uts', path: sb.nsPaths.uts },
        { type: 'mount' }, { type: 'pid', path: '/proc/100/ns/pid' }, { type: 'cgroup' },
      ],
    },
    {
      name: 'host network/ipc/pid', sb: sandbox({ network: 'NODE', ipc: 'NODE', nsPaths: {} }), pid: 'NODE',
      want: [{ type: 'mount' }],
    },
    {
      name: 'TARGET pid', sb, pid: 'TARGET',
      want: [
        { type: 'network', path: sb.nsPaths.net }, { type: 'ipc', path: sb.nsPaths.ipc }, { type: 'uts', path: sb.nsPaths.uts },
        { type: 'mount' }, { type: 'pid', path: '/proc/7/ns/pid' },
      ],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(buildNamespaces(c.sb, c.pid, '/proc/7/ns/pid', c.v2 ?? false), c.want));
  it('errors: TARGET without target, missing pod namespaces', () => {
    assert.throws(() => buildNamespaces(sb, 'TARGET', undefined, false), InvalidArgumentError);
    assert.throws(() => buildNamespaces(sandbox({ nsPaths: { ipc: '/x', uts: '/y' } }), 'CONTAINER', undefined, false), FailedPreconditionError);
    assert.throws(() => buildNamespaces(sandbox({ nsPaths: { net: '/n', ipc: '/x', uts: '/y' } }), 'POD', undefined, false), FailedPreconditionError);
  });
});

describe('container spec: devices', () => {
  const fuse: HostDevice = { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 };
  const stat = (p: string) => (p === '/dev/fuse' ? fuse : null);
  const dev = (p: DeepPartial<Device>) => Device.fromPartial(p);
  it('default rules only', () => {
    assert.deepEqual(buildDevices([], false, [fuse], stat), { devices: [], rules: DEFAULT_DEVICE_RULES });
  });
  it('wildcards are an absent major/minor, never -1 (crun writes -1 verbatim; the kernel refuses it)', () => {
    for (const r of DEFAULT_DEVICE_RULES) {
      assert.ok(r.major === undefined || r.major >= 0, JSON.stringify(r));
      assert.ok(r.minor === undefined || r.minor >= 0, JSON.stringify(r));
    }
    assert.deepEqual(DEFAULT_DEVICE_RULES.slice(0, 3), [
      { allow: false, access: 'rwm' }, { allow: true, type: 'c', access: 'm' }, { allow: true, type: 'b', access: 'm' },
    ]);
    assert.ok(DEFAULT_DEVICE_RULES.some((r) => r.type === 'c' && r.major === 136 && r.minor === undefined), 'all of /dev/pts/*');
  });
  it('requested device: node at container path and an allow rule', () => {
    const out = buildDevices([dev({ hostPath: '/dev/fuse', containerPath: '/dev/myfuse', permissions: 'mrw' })], false, [], stat);
    assert.deepEqual(out.devices, [{ path: '/dev/myfuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
    assert.deepEqual(out.rules[out.rules.length - 1], { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' });
  });
  it('privileged: all host devices, allow all', () => {
    const out = buildDevices([], true, [fuse], stat);
    assert.deepEqual(out.devices.map((d) => d.path), ['/dev/fuse']);
    assert.deepEqual(out.rules, [{ allow: true, access: 'rwm' }]);
  });
  it('errors', () => {
    assert.throws(() => buildDevices([dev({ hostPath: '/dev/nope', containerPath: '/dev/x' })], false, [], stat), /not a device node/);
    assert.throws(() => normalizePermissions('rwx'), InvalidArgumentError);
    assert.equal(normalizePermissions(''), 'rwm');
    assert.equal(normalizePermissions('r'), 'r');
  });
});

describe('container spec: resources', () => {
  const res = (p: DeepPartial<LinuxContainerResources>) => LinuxContainerResources.fromPartial<DeepPartial<LinuxContainerResources>>(p);
  const env = { hugetlbAvailable: false, swapAvailable: true, cgroupV2: false };
  const cases: { name: string; r: DeepPartial<LinuxContainerResources>; env?: Partial<typeof env>; want: unknown; warn?: RegExp }[] = [
    { name: 'empty', r: {}, want: {} },
    {
      name: 'cpu', r: { cpuShares: 512n, cpuQuota: 50000n, cpuPeriod: 100000n, cpusetCpus: '0', cpusetMems: '0' },
      want: { cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' } },
    },
    { name: 'memory: swap = limit', r: { memoryLimitInBytes: 1048576n }, want: { memory: { limit: 1048576, swap: 1048576 } } },
    { name: 'memory + explicit swap', r: { memoryLimitInBytes: 1048576n, memorySwapLimitInBytes: 2097152n }, want: { memory: { limit: 1048576, swap: 2097152 } } },
    { name: 'no swap controller', r: { memoryLimitInBytes: 1048576n }, env: { swapAvailable: false }, want: { memory: { limit: 1048576 } } },
    { name: 'hugepages dropped', r: { hugepageLimits: [{ pageSize: '2MB', limit: 0n }] }, want: {}, warn: /hugetlb/ },
    { name: 'hugepages kept', r: { hugepageLimits: [{ pageSize: '2MB', limit: 0n }] }, env: { hugetlbAvailable: true }, want: { hugepageLimits: [{ pageSize: '2MB', limit: 0 }] } },
    { name: 'unified on v1 ignored', r: { unified: { 'memory.high': '1000000' } }, want: {}, warn: /cgroup v2/ },
    { name: 'unified on v2', r: { unified: { 'memory.high': '1000000' } }, env: { cgroupV2: true }, want: { unified: { 'memory.high': '1000000' } } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const w: string[] = [];
      assert.deepEqual(buildResources(res(c.r), { ...env, ...c.env }, w), c.want);
      if (c.warn) assert.match(w.join('\n'), c.warn);
      else assert.deepEqual(w, []);
    });
  }
  it('oom_score_adj clamped to the runtime floor', () => {
    const w: string[] = [];
    assert.equal(clampOomScoreAdj(-998n, 0, w), 0);
    assert.match(w[0], /raised to 0/);
    assert.equal(clampOomScoreAdj(1000n, 0, []), 1000);
    assert.equal(clampOomScoreAdj(-5n, -999, []), -5);
    assert.throws(() => clampOomScoreAdj(1001n, 0, []), InvalidArgumentError);
  });
  it('cgroups path per driver', () => {
    assert.equal(cgroupsPath('/kubepods/besteffort/pod1', 'abc', 'cgroupfs'), '/kubepods/besteffort/pod1/nori-abc');
    assert.equal(cgroupsPath('kubepods-besteffort-pod1.slice', 'abc', 'systemd'), 'kubepods-besteffort-pod1.slice:nori:abc');
  });
});
