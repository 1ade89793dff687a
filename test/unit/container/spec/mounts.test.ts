import { strict as assert } from 'node:assert';
import {
  buildMounts, mergeMounts, mountOf, needsMountInfo, terminationMessagePath, terminationMessageSource,
} from '../../../../src/container/spec/mounts';
import { parseMountinfo } from '../../../../src/proc/mountinfo';
import { FailedPreconditionError, InvalidArgumentError } from '../../../../src/errors';
import { Mount, MountPropagation as P, type DeepPartial } from '../../../../src/gen/api';
import { sandbox } from './fixtures';

const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '30 22 0:25 / /mnt/shared rw shared:5 - tmpfs tmpfs rw',
  '31 22 0:26 / /mnt/slave rw master:5 - tmpfs tmpfs rw',
  '32 22 0:27 / /mnt/private rw - tmpfs tmpfs rw',
  '33 22 0:28 / /mnt/with\\040space rw shared:9 - tmpfs tmpfs rw',
].join('\n');

const m = (p: DeepPartial<Mount>) => Mount.fromPartial<DeepPartial<Mount>>(p);
const env = { resolveHostPath: (p: string) => p, mountInfo: MOUNTINFO, recursiveReadOnlySupported: false };

describe('container spec: mounts', () => {
  it('mountinfo: parse and find the holding mount', () => {
    const e = parseMountinfo(MOUNTINFO);
    assert.equal(mountOf('/mnt/shared/a/b', e)?.mountPoint, '/mnt/shared');
    assert.equal(mountOf('/mnt/sharedx', e)?.mountPoint, '/');
    assert.equal(mountOf('/mnt/with space/x', e)?.mountPoint, '/mnt/with space');
  });

  it('the mount table is needed only to check bidirectional and host-to-container sources', () => {
    assert.equal(needsMountInfo(undefined), false);
    assert.equal(needsMountInfo([]), false);
    assert.equal(needsMountInfo([m({ hostPath: '/a', containerPath: '/a' }), m({ hostPath: '/b', containerPath: '/b', propagation: P.PROPAGATION_PRIVATE })]), false);
    assert.equal(needsMountInfo([m({ hostPath: '/a', containerPath: '/a' }), m({ hostPath: '/mnt/slave', containerPath: '/b', propagation: P.PROPAGATION_HOST_TO_CONTAINER })]), true);
    assert.equal(needsMountInfo([m({ hostPath: '/mnt/shared', containerPath: '/b', propagation: P.PROPAGATION_BIDIRECTIONAL })]), true);
    // what it guards: without the table a private source would pass the check unnoticed
    assert.throws(() => buildMounts([m({ hostPath: '/mnt/private', containerPath: '/p', propagation: P.PROPAGATION_BIDIRECTIONAL })], sandbox(), false, false, env), FailedPreconditionError);
  });

  it('default mounts plus the pod files, parents first', () => {
    const out = buildMounts([], sandbox(), false, false, env);
    assert.deepEqual(out.mounts.map((x) => x.destination), [
      '/proc', '/dev', '/sys', '/dev/pts', '/dev/mqueue', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/dev/shm', '/sys/fs/cgroup',
    ]);
    const sys = out.mounts.find((x) => x.destination === '/sys');
    assert.ok(sys?.options?.includes('ro'));
    const shm = out.mounts.find((x) => x.destination === '/dev/shm');
    assert.deepEqual(shm, { destination: '/dev/shm', type: 'bind', source: '/run/nori/sb1/shm', options: ['rbind', 'rprivate', 'rw'] });
    assert.equal(out.rootfsPropagation, undefined);
  });

  it('privileged: sysfs and cgroup rw; readonly rootfs: pod files ro', () => {
    const out = buildMounts([], sandbox(), true, true, env);
    assert.ok(!out.mounts.find((x) => x.destination === '/sys')?.options?.includes('ro'));
    assert.ok(!out.mounts.find((x) => x.destination === '/sys/fs/cgroup')?.options?.includes('ro'));
    assert.deepEqual(out.mounts.find((x) => x.destination === '/etc/hosts')?.options, ['rbind', 'rprivate', 'ro']);
  });

  const cases: { name: string; mount: DeepPartial<Mount>; want: string[]; prop?: string }[] = [
    { name: 'private rw', mount: { containerPath: '/data', hostPath: '/mnt/private/d' }, want: ['rbind', 'rprivate', 'rw'] },
    { name: 'readonly', mount: { containerPath: '/data', hostPath: '/mnt/private/d', readonly: true }, want: ['rbind', 'rprivate', 'ro'] },
    { name: 'bidirectional on shared', mount: { containerPath: '/data', hostPath: '/mnt/shared', propagation: P.PROPAGATION_BIDIRECTIONAL }, want: ['rbind', 'rshared', 'rw'], prop: 'rshared' },
    { name: 'host-to-container on slave', mount: { containerPath: '/data', hostPath: '/mnt/slave/x', propagation: P.PROPAGATION_HOST_TO_CONTAINER }, want: ['rbind', 'rslave', 'rw'], prop: 'rslave' },
    { name: 'host-to-container on shared', mount: { containerPath: '/data', hostPath: '/mnt/shared/x', propagation: P.PROPAGATION_HOST_TO_CONTAINER }, want: ['rbind', 'rslave', 'rw'], prop: 'rslave' },
  ];
  for (const c of cases) {
    it(`CRI mount: ${c.name}`, () => {
      const out = buildMounts([m(c.mount)], sandbox(), false, false, env);
      assert.deepEqual(out.mounts.find((x) => x.destination === '/data')?.options, c.want);
      assert.equal(out.rootfsPropagation, c.prop);
    });
  }

  const errors: { name: string; mount: DeepPartial<Mount>; err: unknown }[] = [
    { name: 'bidirectional on private', mount: { containerPath: '/d', hostPath: '/mnt/private', propagation: P.PROPAGATION_BIDIRECTIONAL }, err: FailedPreconditionError },
    { name: 'bidirectional on slave', mount: { containerPath: '/d', hostPath: '/mnt/slave', propagation: P.PROPAGATION_BIDIRECTIONAL }, err: FailedPreconditionError },
    { name: 'h2c on private', mount: { containerPath: '/d', hostPath: '/mnt/private', propagation: P.PROPAGATION_HOST_TO_CONTAINER }, err: FailedPreconditionError },
    { name: 'relative container path', mount: { containerPath: 'd', hostPath: '/x' }, err: InvalidArgumentError },
    { name: 'rro with neither the rro option nor a staged copy', mount: { containerPath: '/d', hostPath: '/x', readonly: true, recursiveReadOnly: true }, err: InvalidArgumentError },
    { name: 'rro without readonly', mount: { containerPath: '/d', hostPath: '/x', recursiveReadOnly: true }, err: InvalidArgumentError },
    { name: 'image mount nori did not stage', mount: { containerPath: '/d', image: { image: 'busybox' } }, err: InvalidArgumentError },
    { name: 'rro with rslave', mount: { containerPath: '/d', hostPath: '/mnt/slave', readonly: true, recursiveReadOnly: true, propagation: P.PROPAGATION_HOST_TO_CONTAINER }, err: InvalidArgumentError },
    { name: 'rro with rshared', mount: { containerPath: '/d', hostPath: '/mnt/shared', readonly: true, recursiveReadOnly: true, propagation: P.PROPAGATION_BIDIRECTIONAL }, err: InvalidArgumentError },
  ];
  for (const c of errors) {
    it(`error: ${c.name}`, () => assert.throws(() => buildMounts([m(c.mount)], sandbox(), false, false, env), c.err as never));
  }

  it('rro when the runtime supports it', () => {
    const out = buildMounts([m({ containerPath: '/d', hostPath: '/x', readonly: true, recursiveReadOnly: true })], sandbox(), false, false, { ...env, recursiveReadOnlySupported: true });
    assert.deepEqual(out.mounts.find((x) => x.destination === '/d')?.options, ['rbind', 'rprivate', 'ro', 'rro']);
  });

  it('rro staged by nori: its staging dir is bound, without the rro option', () => {
    const rro = m({ containerPath: '/d', hostPath: '/x', readonly: true, recursiveReadOnly: true });
    const out = buildMounts([rro], sandbox(), false, false, { ...env, prepared: new Map([[rro, '/state/prepared-mounts/c/0']]) });
    const d = out.mounts.find((x) => x.destination === '/d');
    assert.equal(d?.source, '/state/prepared-mounts/c/0');
    assert.deepEqual(d?.options, ['rbind', 'rprivate', 'ro']);
  });

  it('rro staged by nori still refuses readonly=false', () => {
    const rro = m({ containerPath: '/d', hostPath: '/x', recursiveReadOnly: true });
    assert.throws(() => buildMounts([rro], sandbox(), false, false, { ...env, prepared: new Map([[rro, '/s/0']]) }), InvalidArgumentError);
  });

  it('an image volume binds its staged source read-only, even when asked read-write', () => {
    const img = m({ containerPath: '/vol/', image: { image: 'web' }, readonly: false });
    const out = buildMounts([img], sandbox(), false, false, { ...env, prepared: new Map([[img, '/s/1/www']]) });
    assert.deepEqual(out.mounts.find((x) => x.destination === '/vol'), {
      destination: '/vol', type: 'bind', source: '/s/1/www', options: ['rbind', 'rprivate', 'ro'],
    });
  });

  it('CRI mounts replace defaults and pod files at the same destination; host paths resolved', () => {
    const out = buildMounts(
      [m({ containerPath: '/etc/hosts', hostPath: '/my/hosts' }), m({ containerPath: '/dev/shm/', hostPath: '/my/shm' })],
      sandbox(), false, false, { ...env, resolveHostPath: (p) => `/real${p}` },
    );
    assert.deepEqual(out.mounts.filter((x) => x.destination === '/etc/hosts').map((x) => x.source), ['/real/my/hosts']);
    assert.deepEqual(out.mounts.filter((x) => x.destination === '/dev/shm').map((x) => x.source), ['/real/my/shm']);
    assert.equal(out.mounts.find((x) => x.destination === '/etc/resolv.conf')?.source, '/var/lib/nori/sb1/resolv.conf');
  });

  it('a supplied /dev drops the default /dev submounts; children sort after parents', () => {
    const merged = mergeMounts(
      [{ destination: '/dev' }, { destination: '/dev/pts' }, { destination: '/sys' }, { destination: '/sys/fs/cgroup' }],
      [{ destination: '/a/b/c' }, { destination: '/dev' }, { destination: '/a' }],
    );
    assert.deepEqual(merged.map((x) => x.destination), ['/sys', '/dev', '/a', '/sys/fs/cgroup', '/a/b/c']);
  });

  const TERM = { containerPath: '/dev/termination-log', hostPath: '/var/lib/nori/c1/termination-log' };
  const ANN = 'io.kubernetes.container.terminationMessagePath';
  const termCases: { name: string; annotations: Record<string, string>; mounts: DeepPartial<Mount>[]; path: string; source: string; mounted: boolean }[] = [
    { name: 'default path, own file', annotations: {}, mounts: [], path: '/dev/termination-log', source: '/own', mounted: true },
    { name: 'kubelet annotation', annotations: { [ANN]: '/tmp/msg/' }, mounts: [], path: '/tmp/msg', source: '/own', mounted: true },
    { name: 'relative annotation ignored', annotations: { [ANN]: 'msg' }, mounts: [], path: '/dev/termination-log', source: '/own', mounted: true },
    {
      name: 'kubelet mounts its own file there', annotations: { [ANN]: '/dev/termination-log' },
      mounts: [{ containerPath: '/dev/termination-log', hostPath: '/pods/u/containers/c/abc' }],
      path: '/dev/termination-log', source: '/pods/u/containers/c/abc', mounted: false,
    },
  ];
  for (const c of termCases) {
    it(`termination message: ${c.name}`, () => {
      const cri = c.mounts.map(m);
      assert.equal(terminationMessagePath(c.annotations), c.path);
      assert.equal(terminationMessageSource(cri, c.annotations, '/own'), c.source);
      const out = buildMounts(cri, sandbox(), false, true, env, { containerPath: c.path, hostPath: TERM.hostPath });
      const at = out.mounts.filter((x) => x.destination === c.path);
      assert.equal(at.length, 1);
      // rw even with a read-only rootfs: the container must be able to write it
      assert.deepEqual(at[0], c.mounted
        ? { destination: c.path, type: 'bind', source: TERM.hostPath, options: ['rbind', 'rprivate', 'rw'] }
        : { destination: c.path, type: 'bind', source: c.source, options: ['rbind', 'rprivate', 'rw'] });
    });
  }
});
