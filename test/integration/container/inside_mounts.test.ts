// Mounts seen from inside real containers: host path volumes (rw, readonly, missing), mount
// propagation (private, rslave, rshared) with mounts made on either side after the container
// started, the pod's /etc/hosts, /etc/resolv.conf, /etc/hostname and /dev/shm, the
// termination-message file and device mappings.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Inside, Pod } from './inside_harness';
import { until } from '../../helpers/until';
import { startInsideForSuite } from './inside_setup';

const mount = (...args: string[]) => execFileSync('mount', args);
function umountQuiet(p: string): void {
  try {
    execFileSync('umount', ['-l', p], { stdio: 'ignore' });
  } catch {
    /* not mounted */
  }
}

describe('containers from inside: mounts', function () {
  this.timeout(120_000);
  let t: Inside;
  let pod: Pod;
  let host: string;
  /** mount points the tests made on the host, unmounted in reverse order */
  const mounted: string[] = [];

  startInsideForSuite({
    // After the containers: their mount namespaces hold slave copies of the test mounts.
    teardown: () => {
      for (const m of mounted.reverse()) umountQuiet(m);
      if (host) rmSync(host, { recursive: true, force: true });
    },
  }, async (inside) => {
    t = inside;
    pod = await t.pod({ hostname: 'mnt-pod', dns: { servers: ['10.9.8.7'], searches: ['inside.svc'], options: ['ndots:3'] } });
    host = mkdtempSync('/tmp/nori-inside-vol-');
  });

  /** A directory that is its own mount point, made rshared: what rslave/rshared volumes need. */
  function sharedDir(name: string): string {
    const d = join(host, name);
    mkdirSync(d);
    mount('--bind', d, d);
    mounted.push(d);
    mount('--make-rshared', d);
    return d;
  }

  const vol = (host_path: string, container_path: string, extra: object = {}) => ({ host_path, container_path, ...extra });

  it('a host path is mounted read-write: writes show on the host', async () => {
    const d = join(host, 'rw');
    mkdirSync(d);
    writeFileSync(join(d, 'in'), 'from host\n');
    const r = await t.run(pod, 'rw', 'cat /data/in && echo from ctr > /data/out', { mounts: [vol(d, '/data')] });
    assert.equal(r.exitCode, 0, r.out);
    assert.equal(r.out, 'from host');
    assert.equal(readFileSync(join(d, 'out'), 'utf8'), 'from ctr\n');
  });

  it('a readonly host path cannot be written', async () => {
    const d = join(host, 'ro');
    mkdirSync(d);
    const r = await t.run(pod, 'ro', 'touch /data/x', { mounts: [vol(d, '/data', { readonly: true })] });
    assert.notEqual(r.exitCode, 0);
    assert.match(r.out, /Read-only file system/);
    assert.ok(!existsSync(join(d, 'x')));
  });

  it('a missing host path is created as a directory', async () => {
    const d = join(host, 'missing', 'deeper');
    const r = await t.run(pod, 'missing', 'echo hi > /data/f && cat /data/f', { mounts: [vol(d, '/data')] });
    assert.equal(r.out, 'hi');
    assert.ok(statSync(d).isDirectory());
    assert.equal(readFileSync(join(d, 'f'), 'utf8'), 'hi\n');
  });

  it('private propagation: a host mount made after start is not seen inside', async () => {
    const d = sharedDir('private');
    mkdirSync(join(d, 'sub'));
    const id = await t.runLong(pod, 'private', { mounts: [vol(d, '/vol', { propagation: 'PROPAGATION_PRIVATE' })] });
    mount('-t', 'tmpfs', 'tmpfs', join(d, 'sub'));
    mounted.push(join(d, 'sub'));
    writeFileSync(join(d, 'sub', 'marker'), 'new mount');
    const r = await t.exec(id, ['sh', '-c', 'cat /vol/sub/marker; grep -c " /vol/sub " /proc/self/mountinfo']);
    assert.match(r.stdout, /^0$/m);
    assert.match(r.stderr, /No such file/);
  });

  it('rslave (HOST_TO_CONTAINER): a host mount made after start is seen inside', async () => {
    const d = sharedDir('slave');
    mkdirSync(join(d, 'sub'));
    const id = await t.runLong(pod, 'slave', { mounts: [vol(d, '/vol', { propagation: 'PROPAGATION_HOST_TO_CONTAINER' })] });
    mount('-t', 'tmpfs', 'tmpfs', join(d, 'sub'));
    mounted.push(join(d, 'sub'));
    writeFileSync(join(d, 'sub', 'marker'), 'new mount');
    const r = await t.exec(id, ['cat', '/vol/sub/marker']);
    assert.equal(r.stdout, 'new mount');
  });

  it('rshared (BIDIRECTIONAL): host mounts are seen inside and mounts made inside show on the host', async () => {
    const ppod = await t.pod({ privileged: true });
    const d = sharedDir('shared');
    mkdirSync(join(d, 'sub'));
    mkdirSync(join(d, 'fromctr'));
    const id = await t.runLong(ppod, 'shared', {
      mounts: [vol(d, '/vol', { propagation: 'PROPAGATION_BIDIRECTIONAL' })],
      linux: { security_context: { privileged: true } },
    });
    mount('-t', 'tmpfs', 'tmpfs', join(d, 'sub'));
    mounted.push(join(d, 'sub'));
    writeFileSync(join(d, 'sub', 'marker'), 'new mount');
    assert.equal((await t.exec(id, ['cat', '/vol/sub/marker'])).stdout, 'new mount');
    mounted.push(join(d, 'fromctr'));
    const r = await t.exec(id, ['sh', '-c', 'mount -t tmpfs tmpfs /vol/fromctr && echo inside > /vol/fromctr/m']);
    assert.equal(r.exitCode, 0, r.stderr);
    await until('the container\'s mount on the host', () => existsSync(join(d, 'fromctr', 'm')), 5000);
    assert.equal(readFileSync(join(d, 'fromctr', 'm'), 'utf8'), 'inside\n');
  });

  it('rshared and rslave need a shared (or slave) host mount', async () => {
    const d = join(host, 'plain');
    mkdirSync(d);
    const shared = t.create(pod, 'bad-shared', 'true', { mounts: [vol(d, '/vol', { propagation: 'PROPAGATION_BIDIRECTIONAL' })] });
    await assert.rejects(shared, /not a shared mount/);
    const slave = t.create(pod, 'bad-slave', 'true', { mounts: [vol(d, '/vol', { propagation: 'PROPAGATION_HOST_TO_CONTAINER' })] });
    await assert.rejects(slave, /not a shared or slave mount/);
  });

  it('/etc/hostname, /etc/hosts and /etc/resolv.conf are the pod\'s files', async () => {
    const a = await t.run(pod, 'etc-a', 'cat /etc/hostname; echo ---; cat /etc/resolv.conf; echo ---; grep -c localhost /etc/hosts; echo "10.1.1.1 added-by-a" >> /etc/hosts');
    const [hn, resolv, localhost] = a.out.split('---\n').map((s) => s.trim());
    assert.equal(hn, 'mnt-pod');
    assert.match(resolv!, /^nameserver 10\.9\.8\.7$/m);
    assert.match(resolv!, /^search inside\.svc$/m);
    assert.match(resolv!, /^options ndots:3$/m);
    assert.ok(Number(localhost) >= 1);
    const b = await t.run(pod, 'etc-b', 'grep added-by-a /etc/hosts; grep -E " /etc/(hosts|hostname|resolv.conf) " /proc/self/mountinfo | wc -l');
    assert.equal(b.out, '10.1.1.1 added-by-a\n3');
  });

  it('/dev/shm is the pod\'s tmpfs, shared by its containers', async () => {
    const a = await t.run(pod, 'shm-a', 'echo shared > /dev/shm/marker; grep " /dev/shm " /proc/self/mountinfo');
    assert.match(a.out, / - tmpfs /);
    const b = await t.run(pod, 'shm-b', 'cat /dev/shm/marker');
    assert.equal(b.out, 'shared');
    const other = await t.pod();
    const c = await t.run(other, 'shm-c', 'cat /dev/shm/marker');
    assert.match(c.out, /No such file/);
  });

  it('the termination-message file becomes the status message', async () => {
    const r = await t.run(pod, 'term', 'echo -n "last words" > /dev/termination-log; exit 2');
    assert.equal(r.exitCode, 2);
    assert.equal(r.status.message, 'last words');
    assert.equal(r.status.reason, 'Error');
  });

  it('a termination-message path from kubelet\'s annotation and mount is read from that mount', async () => {
    const f = join(host, 'termlog');
    writeFileSync(f, '');
    const r = await t.run(pod, 'term-kubelet', 'echo -n "via kubelet" > /tmp/term-msg', {
      annotations: { 'io.kubernetes.container.terminationMessagePath': '/tmp/term-msg' },
      mounts: [vol(f, '/tmp/term-msg')],
    });
    assert.equal(readFileSync(f, 'utf8'), 'via kubelet');
    assert.equal(r.status.message, 'via kubelet');
  });

  it('a device mapping is usable inside', async () => {
    const r = await t.run(pod, 'dev', 'stat -c "%F %t:%T" /dev/mynull; echo discard > /dev/mynull && echo written; wc -c < /dev/mynull', {
      devices: [{ host_path: '/dev/null', container_path: '/dev/mynull', permissions: 'rw' }],
    });
    assert.equal(r.out, 'character special file 1:3\nwritten\n0');
  });
});
