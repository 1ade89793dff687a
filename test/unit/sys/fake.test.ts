import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { InvalidArgumentError } from '../../../src/errors';
import { FakeSys } from '../../../src/sys/fake';
import { getSys, isSysError, makeSysError, MNT_DETACH, MS, setSys, unpinNamespace, XATTR } from '../../../src/sys';

describe('sys/FakeSys', () => {
  let sys: FakeSys;
  beforeEach(() => {
    sys = new FakeSys();
  });

  it('records every call with its op and arguments, in order', async () => {
    sys.mount('tmpfs', '/a', 'tmpfs', ['MS_NOSUID'], 'size=1m');
    sys.lsetxattr('/f', 'user.x', Buffer.from('1'));
    await sys.startPodInit();
    assert.deepEqual(
      sys.calls.map((c) => c.op),
      ['mount', 'lsetxattr', 'startPodInit'],
    );
    assert.deepEqual(sys.calls[0].args, ['tmpfs', '/a', 'tmpfs', ['MS_NOSUID'], 'size=1m']);
    assert.deepEqual(sys.callsOf('lsetxattr'), [['/f', 'user.x', Buffer.from('1'), 0]]);
  });

  it('pins namespaces with their settings and unpins them with umount2', async () => {
    await sys.pinNamespaces({
      targets: { net: '/s/ns/net/p1', ipc: '/s/ns/ipc/p1', uts: '/s/ns/uts/p1' },
      hostname: 'pod-a',
      sysctls: [
        ['net/ipv4/ip_unprivileged_port_start', '0'],
        ['kernel/shmmni', '1234'],
      ],
    });
    const net = sys.namespaceAt('/s/ns/net/p1');
    const ipc = sys.namespaceAt('/s/ns/ipc/p1');
    const uts = sys.namespaceAt('/s/ns/uts/p1');
    assert.ok(net && ipc && uts);
    assert.equal(net.type, 'net');
    assert.equal(net.loopbackUp, true, 'lo is brought up by default in a new netns');
    assert.equal(net.sysctls.get('net/ipv4/ip_unprivileged_port_start'), '0');
    assert.equal(ipc.sysctls.get('kernel/shmmni'), '1234');
    assert.equal(uts.hostname, 'pod-a');
    assert.equal(new Set([net.inode, ipc.inode, uts.inode]).size, 3);
    assert.equal(sys.mountAt('/s/ns/net/p1')?.fstype, 'nsfs');

    sys.umount2('/s/ns/net/p1', MNT_DETACH);
    assert.equal(sys.isMounted('/s/ns/net/p1'), false);
    assert.throws(
      () => sys.umount2('/s/ns/net/p1', MNT_DETACH),
      (e: unknown) => isSysError(e, 'EINVAL') && e.syscall === 'umount2' && e.path === '/s/ns/net/p1',
    );
  });

  it('refuses settings that would land in the host namespaces', async () => {
    await assert.rejects(sys.pinNamespaces({ targets: { net: '/n' }, hostname: 'x' }), InvalidArgumentError);
    await assert.rejects(
      sys.pinNamespaces({ targets: { uts: '/u' }, sysctls: [['net/ipv4/ip_forward', '1']] }),
      /needs a net namespace/,
    );
    await assert.rejects(
      sys.pinNamespaces({ targets: { net: '/n' }, sysctls: [['kernel/pid_max', '1']] }),
      /not namespaced/,
    );
    await assert.rejects(sys.pinNamespaces({ targets: {} }), InvalidArgumentError);
    await assert.rejects(
      sys.pinNamespaces({ targets: { pid: '/p' } as unknown as { net: string } }),
      /only user, net, ipc and uts/,
    );
    assert.equal(sys.mounts.size, 0);
  });

  it('configures a pinned namespace and fails like setns for unknown files', async () => {
    await sys.pinNamespaces({ targets: { net: '/n' } });
    await sys.configureNamespaces({ join: { net: '/n' }, sysctls: [['net/ipv4/ip_forward', '1']] });
    await sys.writeFileInNamespaces({ net: '/n' }, '/proc/sys/net/ipv4/conf/all/rp_filter', '2');
    const ns = sys.namespaceAt('/n');
    assert.equal(ns?.sysctls.get('net/ipv4/ip_forward'), '1');
    assert.equal(ns?.files.get('/proc/sys/net/ipv4/conf/all/rp_filter')?.toString(), '2');
    await assert.rejects(
      sys.configureNamespaces({ join: { net: '/missing' }, loopbackUp: true }),
      (e: unknown) => isSysError(e, 'ENOENT') && e.step === 'setns' && e.path === '/missing',
    );
    await assert.rejects(sys.writeFileInNamespaces({ net: '/n' }, '/etc/passwd', 'x'), /must be under \/proc\//);
    await assert.rejects(sys.connectInNetns('/missing', '127.0.0.1', 80), (e: unknown) => isSysError(e, 'ENOENT'));
    const fd = await sys.connectInNetns('/n', '127.0.0.1', 8080);
    assert.equal(typeof fd, 'number');
    await assert.rejects(sys.connectInNetns('/n', 'localhost', 80), /not an IP address/);
  });

  it('injects errors once, a number of times, or for matching arguments', async () => {
    sys.failOn('pinNamespaces', 'EPERM');
    await assert.rejects(
      sys.pinNamespaces({ targets: { net: '/n1' } }),
      (e: unknown) => isSysError(e, 'EPERM') && e.errno === -1 && e.syscall === 'unshare',
    );
    assert.equal(sys.isMounted('/n1'), false);
    await sys.pinNamespaces({ targets: { net: '/n1' } });
    assert.equal(sys.isMounted('/n1'), true);

    sys.failOn('mount', 'EBUSY', { times: 2 });
    assert.throws(() => sys.mount(null, '/m', null, MS.MS_BIND), /EBUSY/);
    assert.throws(() => sys.mount(null, '/m', null, MS.MS_BIND), /EBUSY/);
    sys.mount('/src', '/m', null, MS.MS_BIND);

    const custom = new Error('boom');
    sys.failOn('lgetxattr', custom, { match: (args) => args[1] === 'user.bad' });
    assert.equal(sys.lgetxattr('/f', 'user.good'), null);
    assert.throws(() => sys.lgetxattr('/f', 'user.bad'), /boom/);
    assert.equal(sys.lgetxattr('/f', 'user.bad'), null);
    assert.equal(sys.callsOf('lgetxattr').length, 3, 'failed calls are recorded too');
  });

  it('models mount flags, remount, propagation and stacking', () => {
    sys.mount('shm', '/shm', 'tmpfs', ['MS_NOSUID', 'MS_NODEV', 'MS_NOEXEC'], 'size=65536k');
    assert.equal(sys.mountAt('/shm')?.flags, MS.MS_NOSUID | MS.MS_NODEV | MS.MS_NOEXEC);
    sys.mount(null, '/shm', null, ['MS_REMOUNT', 'MS_RDONLY']);
    assert.equal(sys.mountAt('/shm')?.flags, MS.MS_REMOUNT | MS.MS_RDONLY);
    assert.throws(() => sys.mount(null, '/nowhere', null, ['MS_REC', 'MS_PRIVATE']), (e: unknown) =>
      isSysError(e, 'EINVAL'),
    );
    assert.throws(() => sys.mount(null, '/x', null, ['MS_BOGUS' as 'MS_BIND']), InvalidArgumentError);
    sys.mount('tmpfs', '/shm', 'tmpfs', 0);
    sys.umount2('/shm');
    assert.equal(sys.mountAt('/shm')?.data, 'size=65536k', 'the lower mount shows again');
  });

  it('keeps xattrs per path with create/replace semantics', () => {
    const value = Buffer.from([0, 255, 1]);
    sys.lsetxattr('/d', 'trusted.overlay.opaque', Buffer.from('y'));
    sys.lsetxattr('/d', 'user.bin', value);
    value[0] = 9;
    assert.deepEqual(sys.lgetxattr('/d', 'user.bin'), Buffer.from([0, 255, 1]), 'stored a copy');
    assert.deepEqual(sys.llistxattr('/d').sort(), ['trusted.overlay.opaque', 'user.bin']);
    assert.deepEqual(sys.llistxattr('/other'), []);
    assert.equal(sys.lgetxattr('/d', 'user.none'), null);
    assert.throws(() => sys.lsetxattr('/d', 'user.bin', value, XATTR.XATTR_CREATE), /EEXIST/);
    assert.throws(() => sys.lsetxattr('/d', 'user.new', value, XATTR.XATTR_REPLACE), /ENODATA/);
  });

  it('records device nodes and refuses duplicates', () => {
    sys.mknod('/wh', fs.constants.S_IFCHR | 0o600, 0, 0);
    assert.deepEqual(sys.nodes.get('/wh'), { mode: fs.constants.S_IFCHR | 0o600, major: 0, minor: 0 });
    assert.throws(() => sys.mknod('/wh', fs.constants.S_IFCHR, 0, 0), (e: unknown) => isSysError(e, 'EEXIST'));
  });

  it('tracks pod inits through kill', async () => {
    await sys.pinNamespaces({ targets: { uts: '/u' }, hostname: 'h' });
    const pid = await sys.startPodInit({ join: { uts: '/u' } });
    assert.deepEqual(sys.podInits.get(pid)?.join, { uts: '/u' });
    sys.kill(pid, 0);
    sys.kill(pid, 'SIGTERM');
    assert.equal(sys.podInits.get(pid)?.alive, false);
    assert.throws(() => sys.kill(pid, 0), (e: unknown) => isSysError(e, 'ESRCH'));
    assert.notEqual(await sys.startPodInit(), pid);
  });

  it('passes fds through a per-socket queue', () => {
    sys.sendFd(5, 10);
    sys.sendFd(5, 11);
    assert.equal(sys.recvFd(5), 10);
    assert.equal(sys.recvFd(5), 11);
    assert.throws(() => sys.recvFd(5), (e: unknown) => isSysError(e, 'EAGAIN') && e.syscall === 'recvmsg');
  });

  it('is what getSys returns after setSys, until reset', () => {
    setSys(sys);
    try {
      assert.equal(getSys(), sys);
    } finally {
      setSys(undefined);
    }
    assert.notEqual(getSys(), sys);
  });

  it('works with unpinNamespace, which is idempotent', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nori-fake-'));
    try {
      const file = path.join(dir, 'net');
      fs.writeFileSync(file, '');
      await sys.pinNamespaces({ targets: { net: file } });
      await unpinNamespace(sys, file);
      assert.equal(sys.isMounted(file), false);
      assert.equal(fs.existsSync(file), false);
      await unpinNamespace(sys, file);
      assert.deepEqual(
        sys.callsOf('umount2').map((a) => a[0]),
        [file, file],
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sys/makeSysError', () => {
  it('builds the same shape and message as a Node fs error', () => {
    let real: NodeJS.ErrnoException | undefined;
    try {
      fs.openSync('/nonexistent-nori/x', 'r');
    } catch (e) {
      real = e as NodeJS.ErrnoException;
    }
    assert.ok(real);
    const ours = makeSysError('ENOENT', 'open', { path: '/nonexistent-nori/x' });
    assert.equal(ours.message, real.message);
    assert.equal(ours.errno, real.errno);
    assert.equal(ours.code, real.code);
    assert.equal(ours.syscall, real.syscall);
    assert.equal(ours.path, real.path);
    assert.equal(isSysError(ours, 'ENOENT'), true);
    assert.equal(isSysError(new Error('x')), false);
  });
});
