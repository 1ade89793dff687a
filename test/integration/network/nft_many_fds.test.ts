// libnftables in a process that holds over a thousand descriptors. libnftables waits on its
// netlink socket with select(), and glibc aborts a process whose select() names a descriptor of
// 1024 or more ("bit out of range 0 - FD_SETSIZE on fd_set"), so the addon opens that socket when
// it loads, while descriptors are few. Opened at the first pod instead, it took the daemon down
// once kept stats descriptors or client connections had used the first thousand.
// A child process, so that the context is certainly made in it for the first time.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { removeAllPodsAndCleanup, startNori, type NoriProcess } from '../../helpers/daemon';

const NATIVE = join(__dirname, '..', '..', '..', 'src', 'sys', 'native.js');

const CHILD = `
const { openSync } = require('node:fs');
const addon = require(process.argv[1]).loadAddon();
const fds = [];
for (let i = 0; i < 1100; i++) fds.push(openSync('/dev/null', 'r'));
const table = 'nori_fds_' + process.argv[2];
addon.nftRun('add table inet ' + table + '\\ndelete table inet ' + table)
  .then(() => console.log('ok highest=' + Math.max(...fds)), (e) => { console.log('nft error ' + e.message); process.exit(3); });
`;

describe('libnftables with over 1024 descriptors open', () => {
  it('runs a transaction instead of aborting the process', function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/nft')) this.skip();
    const r = spawnSync(process.execPath, ['-e', CHILD, NATIVE, randomBytes(4).toString('hex')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.signal, null, `the process was killed by ${r.signal}: ${r.stderr.trim()}`);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const highest = Number(/highest=(\d+)/.exec(r.stdout)?.[1]);
    assert.ok(highest >= 1024, `the last descriptor opened was ${highest}: the case needs 1024 or more`);
  });
});

/** NETLINK_NETFILTER (linux/netlink.h): the protocol of libnftables' socket. */
const NETLINK_NETFILTER = 12;
/** O_CLOEXEC as /proc/PID/fdinfo prints flags (octal). */
const O_CLOEXEC = 0o2000000;

/** The descriptors of `pid` that are netfilter netlink sockets, by /proc/net/netlink's inodes. */
function netfilterSockets(pid: number): number[] {
  const inodes = new Set<string>();
  // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
  for (const line of readFileSync(`/proc/${pid}/net/netlink`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && Number(f[1]) === NETLINK_NETFILTER) inodes.add(f[9]!);
  }
  const out: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]!)) out.push(Number(fd));
  }
  return out;
}

/** Inodes of the sockets `pid` holds, by descriptor. */
function socketInodes(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.set(Number(fd), m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

describe('the daemon and libnftables\' socket', function () {
  this.timeout(60_000);
  const bridge = `nbs${randomBytes(3).toString('hex')}`;
  let nori: NoriProcess | undefined;
  after(async () => {
    if (nori) await removeAllPodsAndCleanup(nori);
    if (existsSync(`/sys/class/net/${bridge}`)) spawnSync('ip', ['link', 'del', bridge]);
    spawnSync('nft', ['delete', 'table', 'inet', `nori_${bridge}`]);
  });

  it('holds it from its start, below 1024, closed on exec', async function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/nft')) this.skip();
    nori = await startNori({ extraArgs: ['--network', 'builtin', '--bridge', bridge, '--pod-cidr', `10.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 250)}.0/24`] });
    const pid = nori.proc.pid!;
    const atStart = new Set(socketInodes(pid).values());
    // the socket shows in /proc/net/netlink once bound, at its first use: the first pod
    const config = { metadata: { name: 'nfts', namespace: 'nftsock', uid: 'uid-nfts', attempt: 0 } };
    await nori.client.call('RunPodSandbox', { config });
    const fds = netfilterSockets(pid);
    assert.equal(fds.length, 1, `one netfilter socket: ${fds.join(',')}`);
    const fd = fds[0]!;
    assert.ok(atStart.has(socketInodes(pid).get(fd)!), 'it was open before the first pod, from the start');
    assert.ok(fd < 1024, `descriptor ${fd}`);
    const flags = parseInt(/^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8);
    assert.ok((flags & O_CLOEXEC) !== 0, `flags ${flags.toString(8)}: conmon and runc would inherit it`);
  });
});
