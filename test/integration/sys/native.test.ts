// Runs as root against the real kernel: every pin, mount and process made here is removed in
// the after hooks, by exact path or pid.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { isSysError, MNT, MS, NativeSys, unpinNamespace } from '../../../src/sys';
import { loadAddon } from '../../../src/sys/native';
import { until } from '../../helpers/until';

const sys = new NativeSys();

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
}

function isMounted(target: string): boolean {
  try {
    execFileSync('findmnt', ['-n', '--mountpoint', target], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function ino(p: string): number {
  return fs.statSync(p).ino;
}

/** Gone, or a zombie waiting for host init: either way no longer running. */
function exited(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z');
  } catch {
    return true;
  }
}

describe('sys/native (root, real kernel)', function () {
  let dir: string;
  const pins: string[] = [];
  const procs: ChildProcess[] = [];
  const pids: number[] = [];
  const mounts: string[] = [];

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nori-sys-'));
  });

  after(async function () {
    for (const p of procs) p.kill('SIGKILL');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const p of pins) await unpinNamespace(sys, p);
    for (const m of mounts) {
      if (isMounted(m)) sys.umount2(m, MNT.MNT_DETACH);
    }
    if (dir) {
      for (const p of pins) assert.equal(isMounted(p), false, `${p} still mounted`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  async function pinAll(name: string, extra: { hostname?: string; sysctls?: Array<[string, string]> } = {}) {
    const targets = { net: path.join(dir, `${name}-net`), ipc: path.join(dir, `${name}-ipc`), uts: path.join(dir, `${name}-uts`) };
    pins.push(targets.net, targets.ipc, targets.uts);
    await sys.pinNamespaces({ targets, ...extra });
    return targets;
  }

  it('exports the same constants as src/sys/constants.ts', () => {
    const c = loadAddon().constants;
    for (const [name, value] of Object.entries({ ...MS, ...MNT })) assert.equal(c[name], value, name);
  });

  describe('pinNamespaces', () => {
    let t: { net: string; ipc: string; uts: string };
    before(async () => {
      t = await pinAll('pod', {
        hostname: 'nori-pod-1',
        sysctls: [
          ['net/ipv4/ip_unprivileged_port_start', '0'],
          ['kernel/shmmni', '1234'],
        ],
      });
    });

    it('pins new namespaces, different from the host ones', () => {
      for (const type of ['net', 'ipc', 'uts'] as const) {
        assert.ok(isMounted(t[type]), `${type} pin is a mount point`);
        assert.notEqual(ino(t[type]), ino(`/proc/self/ns/${type}`), `${type} differs from the host's`);
      }
    });

    it('brings lo up in the new netns', () => {
      const links = sh('nsenter', [`--net=${t.net}`, 'ip', '-o', 'link']);
      assert.match(links, /^1: lo: <[^>]*\bUP\b[^>]*>/m);
      assert.equal(links.split('\n').length, 1, 'only lo exists in a fresh netns');
    });

    it('sets the hostname in the new UTS namespace only', () => {
      assert.equal(sh('nsenter', [`--uts=${t.uts}`, 'hostname']), 'nori-pod-1');
      assert.notEqual(os.hostname(), 'nori-pod-1');
    });

    it('writes sysctls inside the new namespaces, not the host', () => {
      assert.equal(sh('nsenter', [`--net=${t.net}`, 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start']), '0');
      assert.equal(sh('nsenter', [`--ipc=${t.ipc}`, 'cat', '/proc/sys/kernel/shmmni']), '1234');
      assert.notEqual(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim(), '0');
      assert.notEqual(fs.readFileSync('/proc/sys/kernel/shmmni', 'utf8').trim(), '1234');
    });

    it('configures a pinned namespace later (writeFileInNamespaces, configureNamespaces)', async () => {
      await sys.writeFileInNamespaces({ net: t.net }, '/proc/sys/net/ipv4/ip_forward', '1');
      assert.equal(sh('nsenter', [`--net=${t.net}`, 'cat', '/proc/sys/net/ipv4/ip_forward']), '1');
      await sys.configureNamespaces({ join: { uts: t.uts, ipc: t.ipc }, hostname: 'renamed', sysctls: [['kernel/shmmni', '2048']] });
      assert.equal(sh('nsenter', [`--uts=${t.uts}`, 'hostname']), 'renamed');
      assert.equal(sh('nsenter', [`--ipc=${t.ipc}`, 'cat', '/proc/sys/kernel/shmmni']), '2048');
      await assert.rejects(
        sys.configureNamespaces({ join: { net: path.join(dir, 'missing') }, loopbackUp: true }),
        (e: unknown) => isSysError(e, 'ENOENT') && e.syscall === 'open' && e.step === 'setns',
      );
    });

    it('rolls back on failure: error names the step, nothing stays mounted or created', async () => {
      const targets = { net: path.join(dir, 'bad-net'), uts: path.join(dir, 'bad-uts') };
      await assert.rejects(
        sys.pinNamespaces({ targets, sysctls: [['net/ipv4/no_such_sysctl', '1']] }),
        (e: unknown) =>
          isSysError(e, 'ENOENT') &&
          e.errno === -2 &&
          e.syscall === 'open' &&
          e.step === 'sysctl' &&
          e.path === '/proc/sys/net/ipv4/no_such_sysctl' &&
          e.message === "ENOENT: no such file or directory, open '/proc/sys/net/ipv4/no_such_sysctl'",
      );
      for (const p of Object.values(targets)) {
        assert.equal(isMounted(p), false);
        assert.equal(fs.existsSync(p), false, `${p} removed`);
      }
    });

    it('takes a few milliseconds (p50 over 20 pins of net+ipc+uts)', async () => {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const targets = { net: path.join(dir, `t${i}-net`), ipc: path.join(dir, `t${i}-ipc`), uts: path.join(dir, `t${i}-uts`) };
        const start = process.hrtime.bigint();
        await sys.pinNamespaces({ targets, hostname: `p${i}` });
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
        for (const p of Object.values(targets)) await unpinNamespace(sys, p);
      }
      times.sort((a, b) => a - b);
      const p50 = times[10];
      console.log(`      pinNamespaces(net+ipc+uts, hostname, lo up): p50 ${p50.toFixed(2)} ms, p90 ${times[18].toFixed(2)} ms, max ${times[19].toFixed(2)} ms`);
      assert.ok(p50 < 50, `p50 ${p50} ms`);
    });

    it('unpins with umount2 + unlink, idempotently, leaving nothing mounted', async () => {
      const targets = await pinAll('gone');
      for (const p of Object.values(targets)) {
        await unpinNamespace(sys, p);
        await unpinNamespace(sys, p);
        assert.equal(isMounted(p), false);
        assert.equal(fs.existsSync(p), false);
      }
      assert.equal(sh('findmnt', ['-rn', '-o', 'TARGET']).split('\n').filter((m) => m.startsWith(`${dir}/gone`)).length, 0);
    });
  });

  describe('mount / umount2', () => {
    it('mounts and unmounts a tmpfs with flags by name', () => {
      const target = path.join(dir, 'tmpfs');
      fs.mkdirSync(target);
      mounts.push(target); // unmounted by the after hook if an assertion fails half-way
      sys.mount('tmpfs', target, 'tmpfs', ['MS_NOSUID', 'MS_NODEV'], 'size=1m,mode=0755');
      const [fstype, options] = sh('findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', '--mountpoint', target]).split(/\s+/);
      assert.equal(fstype, 'tmpfs');
      assert.match(options, /nosuid/);
      assert.match(options, /nodev/);
      assert.match(options, /size=1024k/);
      fs.writeFileSync(path.join(target, 'f'), 'x');
      sys.umount2(target, MNT.MNT_DETACH);
      assert.equal(isMounted(target), false);
      assert.equal(fs.existsSync(path.join(target, 'f')), false, 'the file lived in the tmpfs');
    });

    it('throws fs-shaped errors', () => {
      const missing = path.join(dir, 'no-such-dir');
      assert.throws(
        () => sys.mount('tmpfs', missing, 'tmpfs', 0),
        (e: unknown) =>
          isSysError(e, 'ENOENT') &&
          e.errno === -2 &&
          e.syscall === 'mount' &&
          e.path === missing &&
          e.message === `ENOENT: no such file or directory, mount '${missing}'`,
      );
      assert.throws(
        () => sys.umount2(dir),
        (e: unknown) => isSysError(e, 'EINVAL') && e.errno === -22 && e.syscall === 'umount2' && e.path === dir,
      );
    });
  });

  describe('xattrs and mknod', () => {
    it('sets, gets and lists xattrs, trusted.overlay.* included, without following symlinks', () => {
      const file = path.join(dir, 'x-file');
      const link = path.join(dir, 'x-link');
      fs.writeFileSync(file, '');
      fs.symlinkSync(file, link);
      sys.lsetxattr(file, 'trusted.overlay.opaque', Buffer.from('y'));
      const bytes = Buffer.from(Array.from({ length: 600 }, (_, i) => i % 256));
      sys.lsetxattr(file, 'user.nori.bin', bytes);
      assert.deepEqual(sys.lgetxattr(file, 'trusted.overlay.opaque'), Buffer.from('y'));
      assert.deepEqual(sys.lgetxattr(file, 'user.nori.bin'), bytes);
      assert.equal(sys.lgetxattr(file, 'user.nori.none'), null);
      assert.deepEqual(sys.llistxattr(file).sort(), ['trusted.overlay.opaque', 'user.nori.bin']);

      sys.lsetxattr(link, 'trusted.nori.link', Buffer.from('l'));
      assert.deepEqual(sys.llistxattr(link), ['trusted.nori.link']);
      assert.equal(sys.lgetxattr(file, 'trusted.nori.link'), null, 'the target was not touched');
      assert.throws(() => sys.lsetxattr(file, 'user.nori.bin', bytes, 1 /* XATTR_CREATE */), (e: unknown) =>
        isSysError(e, 'EEXIST') && e.syscall === 'lsetxattr',
      );
      assert.throws(() => sys.llistxattr(path.join(dir, 'nope')), (e: unknown) => isSysError(e, 'ENOENT'));
    });

    it('makes a 0/0 character device (an overlay whiteout)', () => {
      const wh = path.join(dir, 'whiteout');
      sys.mknod(wh, fs.constants.S_IFCHR | 0o600, 0, 0);
      const st = fs.lstatSync(wh);
      assert.ok(st.isCharacterDevice());
      assert.equal(st.rdev, 0);
      assert.equal(st.mode & 0o777, 0o600);
      const null2 = path.join(dir, 'null2');
      sys.mknod(null2, fs.constants.S_IFCHR | 0o666, 1, 3);
      assert.equal(fs.lstatSync(null2).rdev, fs.statSync('/dev/null').rdev);
      assert.throws(() => sys.mknod(wh, fs.constants.S_IFCHR, 0, 0), (e: unknown) => isSysError(e, 'EEXIST') && e.path === wh);
    });
  });

  describe('connectInNetns', () => {
    let netns: string;
    before(async () => {
      netns = path.join(dir, 'conn-net');
      pins.push(netns);
      await sys.pinNamespaces({ targets: { net: netns } });
      const server = spawn(
        'nsenter',
        [`--net=${netns}`, process.execPath, '-e', "require('net').createServer(s => s.end('hi from netns')).listen(8080, '127.0.0.1', () => console.log('ready'))"],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      procs.push(server);
      await new Promise((resolve, reject) => {
        server.stdout!.once('data', resolve);
        server.once('exit', reject);
      });
    });

    it('returns a socket connected inside the netns', async () => {
      const fd = await sys.connectInNetns(netns, '127.0.0.1', 8080, { timeoutMs: 2000 });
      const socket = new net.Socket({ fd, readable: true, writable: true });
      let got = '';
      socket.on('data', (c) => (got += c));
      await new Promise((resolve) => socket.once('end', resolve));
      socket.destroy();
      assert.equal(got, 'hi from netns');
    });

    it('reports connect failures with code and syscall', async () => {
      await assert.rejects(
        sys.connectInNetns(netns, '127.0.0.1', 8081),
        (e: unknown) => isSysError(e, 'ECONNREFUSED') && e.syscall === 'connect' && e.path === '127.0.0.1:8081' && e.dest === netns,
      );
    });
  });

  describe('startPodInit', () => {
    let t: { net: string; ipc: string; uts: string };
    let pid: number;
    before(async () => {
      t = await pinAll('init', { hostname: 'shared-pid-pod' });
      pid = await sys.startPodInit({ join: t });
      pids.push(pid);
    });

    it('runs the reaper as PID 1 of a new PID namespace, inside the pod namespaces, detached', async () => {
      assert.notEqual(ino(`/proc/${pid}/ns/pid`), ino('/proc/self/ns/pid'));
      assert.match(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^NSpid:\\s+${pid}\\s+1$`, 'm'));
      for (const type of ['net', 'ipc', 'uts'] as const) assert.equal(ino(`/proc/${pid}/ns/${type}`), ino(t[type]), type);
      // the reaper, run from a sealed in-memory copy rather than the checkout's file
      assert.match(fs.readlinkSync(`/proc/${pid}/exe`), /^\/memfd:/);
      assert.ok(fs.readFileSync(`/proc/${pid}/exe`).equals(fs.readFileSync(path.join(__dirname, '../../../../native/build/Release/nori-reaper'))));
      // The reaper holds the old root open while it confines itself; no_new_privs is its last step.
      await until('the reaper to confine itself', () => /^NoNewPrivs:\s+1$/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')));
      assert.deepEqual(fs.readdirSync(`/proc/${pid}/fd`).sort(), ['0', '1', '2']);
      // Its whole mount namespace, as the kernel lists it: one empty read-only tmpfs as "/".
      assert.notEqual(ino(`/proc/${pid}/ns/mnt`), ino('/proc/self/ns/mnt'));
      const mounts = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n');
      assert.equal(mounts.length, 1, mounts.join('\n'));
      assert.match(mounts[0]!, /^\d+ \d+ \S+ \/ \/ ro,[^ ]* .*- tmpfs /);
      assert.deepEqual(fs.readdirSync(`/proc/${pid}/root`), []);
      assert.equal(fs.readlinkSync(`/proc/${pid}/fd/0`), '/dev/null');
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      assert.equal(Number(stat[3]), pid, 'own session (setsid)');
      assert.equal(sh('nsenter', [`--target=${pid}`, '--uts', 'hostname']), 'shared-pid-pod');
    });

    it('starts every pod init in one mount namespace the daemon made, not a copy of the node\'s per pod', async () => {
      const other = await sys.startPodInit({ join: { net: t.net } });
      pids.push(other);
      assert.equal(ino(`/proc/${other}/ns/mnt`), ino(`/proc/${pid}/ns/mnt`));
      assert.notEqual(ino(`/proc/${other}/ns/mnt`), ino('/proc/self/ns/mnt'));
      sys.kill(other, 'SIGTERM');
      await until('the second init to exit', () => exited(other));
    });

    it('reaps orphans re-parented to it', async () => {
      // The orphan's stdio goes to /dev/null so it does not hold execFileSync's pipes.
      const inPod = sh('nsenter', [`--pid=/proc/${pid}/ns/pid`, 'sh', '-c', 'echo $$; sleep 0.5 </dev/null >/dev/null 2>&1 & exit 0']);
      assert.ok(Number(inPod) > 1 && Number(inPod) < 100, `pid inside the pod namespace: ${inPod}`);
      const childrenFile = `/proc/${pid}/task/${pid}/children`;
      let orphan = 0;
      await until('the orphan to be re-parented', () => {
        orphan = Number(fs.readFileSync(childrenFile, 'utf8').trim().split(' ')[0] || 0);
        return orphan > 0;
      });
      assert.match(fs.readFileSync(`/proc/${orphan}/cmdline`, 'utf8'), /^sleep/);
      await until('the orphan to be reaped', () => !fs.existsSync(`/proc/${orphan}`));
      assert.equal(fs.readFileSync(childrenFile, 'utf8').trim(), '');
    });

    it('exits on SIGTERM, ending the namespace', async () => {
      const reaper = await sys.startPodInit({ join: { net: t.net } });
      pids.push(reaper);
      sh('nsenter', [`--pid=/proc/${reaper}/ns/pid`, 'sh', '-c', 'sleep 30 </dev/null >/dev/null 2>&1 & exit 0']);
      const childrenFile = `/proc/${reaper}/task/${reaper}/children`;
      let sleeper = 0;
      await until('sleep in the pod', () => {
        sleeper = Number(fs.readFileSync(childrenFile, 'utf8').trim().split(' ')[0] || 0);
        return sleeper > 0;
      });
      pids.push(sleeper);
      sys.kill(reaper, 'SIGTERM');
      await until('the reaper to exit', () => exited(reaper));
      await until('the kernel to kill the rest of the namespace', () => exited(sleeper));
    });

    it('fails with the exec step when the binary is missing', async () => {
      await assert.rejects(
        sys.startPodInit({ reaperPath: '/nonexistent/nori-reaper' }),
        (e: unknown) => isSysError(e, 'ENOENT') && e.syscall === 'execve' && e.step === 'exec' && e.path === '/nonexistent/nori-reaper',
      );
    });
  });

  describe('fd helpers', () => {
    it('passes an fd over a Unix socket with sendFd/recvFd', async () => {
      const sockPath = path.join(dir, 'fd.sock');
      const accepted = new Promise<net.Socket>((resolve) => {
        const server = net.createServer({ pauseOnConnect: true }, (s) => {
          server.close();
          resolve(s);
        });
        server.listen(sockPath);
      });
      const client = net.connect(sockPath);
      await new Promise((resolve) => client.once('connect', resolve));
      const serverSide = await accepted;
      const fdOf = (s: net.Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;
      const file = path.join(dir, 'passed.txt');
      fs.writeFileSync(file, 'passed by SCM_RIGHTS');
      const fd = fs.openSync(file, 'r');
      try {
        sys.sendFd(fdOf(client), fd);
        const received = sys.recvFd(fdOf(serverSide));
        assert.notEqual(received, fd);
        assert.equal(fs.readFileSync(received, 'utf8'), 'passed by SCM_RIGHTS');
        fs.closeSync(received);
        assert.throws(() => sys.recvFd(fdOf(serverSide)), (e: unknown) => isSysError(e, 'EAGAIN') && e.syscall === 'recvmsg');
      } finally {
        fs.closeSync(fd);
        client.destroy();
        serverSide.destroy();
      }
    });

    it('opens a pidfd', () => {
      const fd = sys.pidfdOpen(process.pid);
      assert.ok(fd > 2);
      assert.match(fs.readlinkSync(`/proc/self/fd/${fd}`), /pidfd/);
      fs.closeSync(fd);
      assert.throws(() => sys.pidfdOpen(0x3fffffff), (e: unknown) => isSysError(e, 'ESRCH') || isSysError(e, 'EINVAL'));
    });
  });
});
