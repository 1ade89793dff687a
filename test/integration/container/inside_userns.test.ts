// Pods with their own user namespace (userns_options mode POD, kubelet's hostUsers: false),
// seen from inside their containers and from the host: the maps, the owners of image files and
// volumes (idmapped mounts, nothing chowned), what the pod's root can and cannot do to the
// host, and that nothing of such a pod remains once it is removed.

import { strict as assert } from 'node:assert';
import { chmodSync, chownSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Inside, Pod } from './inside_harness';
import { startInsideForSuite } from './inside_setup';
import { skipWithoutIdmappedTmpfs } from '../../helpers/kernel';

const A = { hostId: 3_000_000, length: 65536 };
const B = { hostId: 3_200_000, length: 65536 };
// One range per removal test, so its leak check sees only its own pod's processes.
const C = { hostId: 3_400_000, length: 65536 };
const D = { hostId: 3_600_000, length: 65536 };

function userns(r: { hostId: number; length: number }) {
  const m = [{ host_id: r.hostId, container_id: 0, length: r.length }];
  return { mode: 'POD', uids: m, gids: m };
}

/** Mount points under `dir` in the host's mount table. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(dir));
}

describe('containers from inside: user namespaces (hostUsers: false)', function () {
  this.timeout(120_000);
  let t: Inside;
  let vol: string;

  startInsideForSuite({ skipUnless: skipWithoutIdmappedTmpfs }, async (inside) => {
    t = inside;
    // The pod's root reaches its rootfs by path: the test daemon's temp dir must be searchable.
    chmodSync(t.nori.dir, 0o711);
    vol = join(t.dir, 'vol');
    mkdirSync(vol);
    chmodSync(t.dir, 0o711);
  });

  async function podA(name?: string): Promise<Pod> {
    return t.pod({ userns: userns(A), ...(name ? { name } : {}) });
  }

  it('/proc/self/uid_map and gid_map show the mapping; id says root', async () => {
    const pod = await podA();
    const r = await t.run(pod, 'maps', 'cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g');
    assert.equal(r.exitCode, 0, r.out);
    const lines = r.out.split('\n').map((l) => l.trim().split(/\s+/).join(' '));
    assert.deepEqual(lines, [`0 ${A.hostId} ${A.length}`, `0 ${A.hostId} ${A.length}`, '0', '0']);
  });

  it('from the host: the processes have uids in the range and the pod\'s namespaces are owned by its user namespace', async () => {
    const pod = await podA();
    const id = await t.runLong(pod, 'long');
    const st = (await t.nori.client.call('ContainerStatus', { container_id: id, verbose: true })) as { info: Record<string, string> };
    const pid = (JSON.parse(st.info.info!) as { pid: number }).pid;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uids = /^Uid:\s+(.*)$/m.exec(status)![1]!.split(/\s+/).map(Number);
    for (const u of uids) assert.ok(u >= A.hostId && u < A.hostId + A.length, status);
    const userIno = statSync(`/proc/${pid}/ns/user`).ino;
    assert.notEqual(userIno, statSync('/proc/self/ns/user').ino);
    const owners = readLsnsOwners(pid);
    for (const type of ['net', 'ipc', 'uts', 'mnt', 'pid']) assert.equal(owners.get(type), userIno, `owner of ${type}: ${[...owners]}`);
  });

  it('image files show their owners through the map: root-owned reads as root, nothing chowned on disk', async () => {
    const pod = await podA();
    const r = await t.run(pod, 'owners', 'stat -c "%u %g %n" / /bin/busybox /etc; touch /newfile && stat -c "%u %g %n" /newfile');
    assert.equal(r.exitCode, 0, r.out);
    assert.match(r.out, /^0 0 \/$/m);
    assert.match(r.out, /^0 0 \/bin\/busybox$/m);
    assert.match(r.out, /^0 0 \/newfile$/m);
    // On disk the image layers are untouched: still owned by host root.
    const layers = join(t.nori.root, 'overlay2');
    const busybox = readdirSync(layers).map((d) => join(layers, d, 'diff', 'bin', 'busybox')).find((p) => existsSync(p))!;
    assert.equal(statSync(busybox).uid, 0);
  });

  it('volumes (a hostPath dir, the pod files, /dev/shm) show mapped owners and the pod root can write them', async () => {
    const pod = await podA();
    writeFileSync(join(vol, 'hostroot'), 'x');
    writeFileSync(join(vol, 'u1000'), 'x');
    chownSync(join(vol, 'u1000'), 1000, 1000);
    const r = await t.run(pod, 'vols', [
      'stat -c "%u %g %n" /vol /vol/hostroot /vol/u1000 /etc/hosts /etc/resolv.conf /etc/hostname /dev/shm /dev/termination-log',
      'echo w > /vol/written && stat -c "%u %g %n" /vol/written',
      'echo s > /dev/shm/x && stat -c "%u %g %n" /dev/shm/x',
    ].join('; '), { mounts: [{ container_path: '/vol', host_path: vol }] });
    assert.equal(r.exitCode, 0, r.out);
    for (const f of ['/vol', '/vol/hostroot', '/etc/hosts', '/etc/resolv.conf', '/etc/hostname', '/dev/shm', '/dev/termination-log', '/vol/written', '/dev/shm/x']) {
      assert.match(r.out, new RegExp(`^0 0 ${f}$`, 'm'), `${f}: ${r.out}`);
    }
    assert.match(r.out, /^1000 1000 \/vol\/u1000$/m);
    // Written through the idmapped mount: on disk as the id the container wrote, 0, not a chown.
    assert.equal(statSync(join(vol, 'written')).uid, 0);
  });

  it('root in the container cannot change a host file whose owner is outside its range, and CAP_SYS_ADMIN grants nothing on the host', async () => {
    const pod = await podA();
    const host = join(vol, 'host-owned');
    writeFileSync(host, 'original\n', { mode: 0o644 });
    chownSync(host, 4_000_000, 4_000_000); // a host id no pod maps
    const r = await t.run(pod, 'escape', [
      'stat -c "%u %n" /vol/host-owned',
      'echo pwned > /vol/host-owned && echo WROTE',
      'chown 0 /vol/host-owned && echo CHOWNED',
      'rm /vol/host-owned && echo REMOVED-FILE',
      'mknod /tmp/mem c 1 1 && echo MKNOD',
      'grep CapEff /proc/self/status',
      'echo 1 > /proc/sys/vm/drop_caches && echo DROPPED',
      'true',
    ].join('; '), {
      mounts: [{ container_path: '/vol', host_path: vol }],
      linux: { security_context: { capabilities: { add_capabilities: ['SYS_ADMIN', 'MKNOD', 'DAC_OVERRIDE', 'CHOWN', 'FOWNER'] } } },
    });
    assert.match(r.out, /^65534 \/vol\/host-owned$/m, r.out);
    for (const done of ['WROTE', 'CHOWNED', 'MKNOD', 'DROPPED']) assert.ok(!r.out.includes(done), r.out);
    // SYS_ADMIN (bit 21) is in the container's effective set: it just means nothing outside.
    const capEff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(r.out)![1]}`);
    assert.ok((capEff >> 21n) & 1n, r.out);
    assert.equal(readFileSync(host, 'utf8'), 'original\n');
    assert.equal(statSync(host).uid, 4_000_000);
  });

  it('two pods with disjoint ranges cannot touch each other\'s files', async () => {
    const a = await podA();
    const b = await t.pod({ userns: userns(B) });
    // Pod A's root writes a private file in its container layer: on disk it is owned by a host
    // id in A's range (the upper dir is not idmapped).
    const ra = await t.run(a, 'writer', 'echo secret > /a-secret && chmod 600 /a-secret');
    assert.equal(ra.exitCode, 0, ra.out);
    const upper = join(t.nori.root, 'overlay2', 'containers', ra.id, 'upper');
    const st = statSync(join(upper, 'a-secret'));
    assert.equal(st.uid, A.hostId);
    assert.equal(st.mode & 0o777, 0o600);
    // Pod B's root, given A's layer as a volume (idmapped through B's maps), finds a file of an
    // id it does not map: nobody's, and closed to it despite its capabilities.
    const rb = await t.run(b, 'intruder', [
      'stat -c "%u %n" /a/a-secret',
      'cat /a/a-secret && echo READ',
      'echo x >> /a/a-secret && echo WROTE',
      'chmod 666 /a/a-secret && echo CHMODDED',
      'chown 0 /a/a-secret && echo CHOWNED',
      'true',
    ].join('; '), { mounts: [{ container_path: '/a', host_path: upper }] });
    assert.match(rb.out, /^65534 \/a\/a-secret$/m, rb.out);
    for (const done of ['READ', 'WROTE', 'CHMODDED', 'CHOWNED']) assert.ok(!rb.out.includes(done), rb.out);
    assert.doesNotMatch(rb.out, /^secret$/m);
    assert.equal(readFileSync(join(upper, 'a-secret'), 'utf8'), 'secret\n');
    assert.equal(statSync(join(upper, 'a-secret')).mode & 0o777, 0o600);
  });

  it('sysctls, the hostname and lo are set inside the pod\'s namespaces', async () => {
    const pod = await t.pod({ userns: userns(A), sysctls: { 'net.ipv4.ip_unprivileged_port_start': '42', 'kernel.shmmni': '3000' }, hostname: 'uns-host' });
    const r = await t.run(pod, 'sysctl', 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni; hostname; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags');
    assert.equal(r.exitCode, 0, r.out);
    const [port, shm, host] = r.out.split('\n');
    assert.equal(port, '42');
    assert.equal(shm, '3000');
    assert.equal(host, 'uns-host');
    // IFF_UP is bit 0 of the flags
    assert.ok(Number(r.out.split('\n')[4]) & 1, r.out);
  });

  it('a shared PID namespace: the pod init runs as the pod\'s root, in its user namespace', async () => {
    const pod = await t.pod({ userns: userns(A), pid: 'POD' });
    const r = await t.run(pod, 'ps', 'grep -E "^(Name|Uid):" /proc/1/status');
    assert.equal(r.exitCode, 0, r.out);
    assert.match(r.out, /^Name:\s+nori-reaper$/m);
    assert.match(r.out, /^Uid:\s+0\s+0\s+0\s+0$/m);
    const st = await t.nori.client.call('PodSandboxStatus', { pod_sandbox_id: pod.id, verbose: true });
    const info = JSON.parse(st.info.info) as { pid: number; namespacePaths: { user: string } };
    assert.equal(statSync(`/proc/${info.pid}/ns/user`).ino, statSync(info.namespacePaths.user).ino);
    assert.equal(readLsnsOwners(info.pid).get('pid'), statSync(info.namespacePaths.user).ino);
  });

  it('stats, ExecSync through nori-exec, logs and a clear refusal to checkpoint', async () => {
    const pod = await podA();
    const id = await t.runLong(pod, 'busy', {}, 'echo ready; while true; do echo tick; sleep 1; done');
    const st = await t.nori.client.call('ContainerStats', { container_id: id });
    assert.ok(Number(st.stats.memory.working_set_bytes.value) > 0, JSON.stringify(st.stats.memory));
    assert.ok(st.stats.cpu, JSON.stringify(st.stats));
    const ps = await t.nori.client.call('PodSandboxStats', { pod_sandbox_id: pod.id });
    assert.equal(ps.stats.attributes.id, pod.id);
    const ex = await t.exec(id, ['sh', '-c', 'id -u; cat /proc/self/uid_map']);
    assert.equal(ex.exitCode, 0, ex.stderr);
    assert.deepEqual(ex.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' ')).slice(0, 2), ['0', `0 ${A.hostId} ${A.length}`]);
    await t.waitLog(pod, 'busy', /tick/);
    await assert.rejects(
      t.nori.client.call('CheckpointContainer', { container_id: id, location: join(t.dir, 'cp.tar') }),
      (e: { code?: number; details?: string }) => e.code === 9 && /user namespace/.test(e.details ?? ''),
    );
  });

  it('crun (through nori\'s wrapper): the maps, mapped owners, and ExecSync', async () => {
    const pod = await t.pod({ userns: userns(A), handler: 'crun' });
    const r = await t.run(pod, 'crun', 'cat /proc/self/uid_map; stat -c "%u %g %n" / /bin/busybox /etc/hosts /vol; touch /vol/by-crun && stat -c "%u %n" /vol/by-crun', {
      mounts: [{ container_path: '/vol', host_path: vol }],
    });
    assert.equal(r.exitCode, 0, r.out);
    assert.deepEqual(r.out.split('\n')[0]!.trim().split(/\s+/), ['0', String(A.hostId), String(A.length)]);
    for (const f of ['/', '/bin/busybox', '/etc/hosts', '/vol', '/vol/by-crun']) assert.match(r.out, new RegExp(`^0 (0 )?${f}$`, 'm'), r.out);
    const id = await t.runLong(pod, 'crun-long');
    const ex = await t.exec(id, ['cat', '/proc/self/uid_map']);
    assert.deepEqual(ex.stdout.trim().split(/\s+/), ['0', String(A.hostId), String(A.length)]);
  });

  it('nothing of the pod remains after RemovePodSandbox', async () => {
    const pod = await t.pod({ userns: userns(C), name: 'gone' });
    await t.runLong(pod, 'long', { mounts: [{ container_path: '/vol', host_path: vol }] });
    await t.nori.client.call('StopPodSandbox', { pod_sandbox_id: pod.id });
    await t.nori.client.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    assertGone(t, pod.id, C);
  });

  it('nothing remains after kill -9 of nori, a restart and RemovePodSandbox', async () => {
    const pod = await t.pod({ userns: userns(D), name: 'crash' });
    await t.runLong(pod, 'long', { mounts: [{ container_path: '/vol', host_path: vol }] });
    await t.crashAndRestart();
    const st = await t.nori.client.call('PodSandboxStatus', { pod_sandbox_id: pod.id });
    assert.equal(st.status.state, 'SANDBOX_READY');
    assert.equal(st.status.linux.namespaces.options.userns_options.mode, 'POD');
    await t.nori.client.call('StopPodSandbox', { pod_sandbox_id: pod.id });
    await t.nori.client.call('RemovePodSandbox', { pod_sandbox_id: pod.id });
    assertGone(t, pod.id, D);
  });
});

/** No pin, mount or process of the pod is left (its processes: those with uids in its range). */
function assertGone(t: Inside, podId: string, range: { hostId: number; length: number }): void {
  const mine = mountsUnder(t.nori.state).filter((p) => p.includes(podId) || p.includes('/idmap/'));
  assert.deepEqual(mine, []);
  for (const type of ['user', 'net', 'ipc', 'uts', 'pid']) assert.ok(!existsSync(join(t.nori.state, 'ns', type, podId)), type);
  assert.ok(!existsSync(join(t.nori.state, 'idmap')) || readdirSync(join(t.nori.state, 'idmap')).length === 0);
  const left: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]);
      if (uid >= range.hostId && uid < range.hostId + range.length) left.push(`${p}: ${readFileSync(`/proc/${p}/cmdline`, 'utf8')}`);
    } catch {
      /* gone */
    }
  }
  assert.deepEqual(left, []);
}

/** Namespace type → inode of its owning user namespace (lsns' ONS column: ioctl NS_GET_USERNS). */
function readLsnsOwners(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  const text = execFileSync('lsns', ['-p', String(pid), '-n', '-o', 'TYPE,ONS'], { encoding: 'utf8' });
  for (const line of text.split('\n')) {
    const [type, ons] = line.trim().split(/\s+/);
    if (type && ons) out.set(type, Number(ons));
  }
  return out;
}
