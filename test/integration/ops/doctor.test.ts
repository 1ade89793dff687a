// `nori doctor` against the real host: it passes here with exactly the WARN lines the kernel's
// own view calls for, and FAILs with the right fix when the default runtime is missing, when the
// writable layers would sit on a filesystem overlay refuses as upper, and when no cgroup
// filesystem is mounted (in a mount namespace of the test's own). --online reaches a real
// registry on loopback and reports an unreachable one.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { NORI_BIN } from '../../helpers/daemon';
import { startRegistry, type TestRegistry } from '../../helpers/registry';

interface Check {
  area: string;
  name: string;
  status: 'PASS' | 'WARN' | 'FAIL';
  message: string;
  fix?: string;
}
interface Report {
  ok: boolean;
  checks: Check[];
}

function doctor(args: string[], wrap?: (cmd: string[]) => string[]): { status: number | null; report: Report; stderr: string } {
  const cmd = wrap ? wrap([process.execPath, NORI_BIN, ...args]) : [process.execPath, NORI_BIN, ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 60_000 });
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`doctor printed no JSON (status ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
  return { status: r.status, report, stderr: r.stderr };
}

const byName = (r: Report, name: string) => r.checks.find((c) => c.name === name);

/** The WARNs this host deserves, decided from the kernel's own files, not from nori's code. */
function expectedWarns(): string[] {
  const warns: string[] = [];
  const capBnd = BigInt('0x' + /^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
  if (!((capBnd >> 24n) & 1n)) warns.push('CAP_SYS_RESOURCE');
  const mounts = spawnSync('findmnt', ['-rn', '-o', 'TARGET,FSTYPE', '-t', 'cgroup,cgroup2'], { encoding: 'utf8' }).stdout;
  const v1 = mounts.split('\n').filter((l) => / cgroup$/.test(l)).length;
  const v2 = mounts.split('\n').find((l) => / cgroup2$/.test(l))?.split(' ')[0];
  const hybrid = v1 > 0 && v2 !== undefined;
  if (hybrid || (v1 > 0 && !v2)) warns.push('layout');
  const v2ctl = v2 ? readFileSync(join(v2, 'cgroup.controllers'), 'utf8').trim().split(/\s+/) : [];
  const v1hugetlb = mounts.includes('/hugetlb ');
  if (hybrid && v2ctl.includes('hugetlb') && !v1hugetlb) warns.push('hugetlb');
  if (hybrid && v2ctl.length > 0 && existsSync('/usr/bin/crun')) warns.push('runtime crun');
  if (readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== '1') warns.push('net.ipv4.ip_forward');
  const brnf = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  if (!existsSync(brnf) || readFileSync(brnf, 'utf8').trim() !== '1') warns.push('bridge-nf-call-iptables');
  return warns.sort();
}

describe('nori doctor (real host)', function () {
  this.timeout(120_000);
  let dir: string;
  let base: string[];

  before(() => {
    dir = mkdtempSync('/tmp/nt-doctor-');
    mkdirSync(join(dir, 'net.d'));
    // The network the integration tests use: bridge + host-local, all in Debian's plugin dir.
    writeFileSync(join(dir, 'net.d', '10-doctor.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: 'doctor', plugins: [{ type: 'bridge', bridge: 'ntdoc0', ipam: { type: 'host-local', ranges: [[{ subnet: '10.234.0.0/24' }]] } }],
    }));
    writeFileSync(join(dir, 'nori.toml'), '# doctor test\n');
    base = ['--config', join(dir, 'nori.toml'), '--root', join(dir, 'root'), '--state', join(dir, 'state'),
      '--listen', `unix://${join(dir, 'nori.sock')}`, '--cni-conf-dir', join(dir, 'net.d')];
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('passes on this machine with exactly the WARN lines the host deserves', () => {
    const r = doctor(['doctor', '--json', ...base]);
    const fails = r.report.checks.filter((c) => c.status === 'FAIL');
    assert.deepEqual(fails, [], 'no FAIL');
    assert.equal(r.status, 0);
    assert.equal(r.report.ok, true);
    const warns = r.report.checks.filter((c) => c.status === 'WARN');
    assert.deepEqual(warns.map((c) => c.name).sort(), expectedWarns());
    for (const w of warns) assert.ok(w.fix && w.fix.length > 0, `${w.name} has a fix`);
    // Every area is covered.
    for (const area of ['kernel', 'cgroups', 'binaries', 'network', 'files']) assert.ok(r.report.checks.some((c) => c.area === area), area);
    // Nothing left behind by the mount probes.
    assert.equal(spawnSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' }).stdout.includes('.nori-doctor-'), false);
  });

  it('prints a readable report with the same verdicts', () => {
    const r = spawnSync(process.execPath, [NORI_BIN, 'doctor', ...base], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^ {2}WARN {2}CAP_SYS_RESOURCE|^ {2}PASS {2}CAP_SYS_RESOURCE/m);
    assert.match(r.stdout, /\d+ passed, \d+ warnings, 0 failed\n$/);
  });

  it('FAILs with the fix when the default runtime binary is missing', () => {
    const conf = join(dir, 'missing-runc.toml');
    writeFileSync(conf, '[runtimes.runc]\npath = "/nonexistent/runc"\n');
    const r = doctor(['doctor', '--json', ...base, '--config', conf]);
    assert.equal(r.status, 1);
    assert.equal(r.report.ok, false);
    const c = byName(r.report, 'runtime runc')!;
    assert.equal(c.status, 'FAIL');
    assert.match(c.message, /\/nonexistent\/runc not found/);
    assert.match(c.fix!, /apt-get install runc|\[runtimes\.runc\] path/);
  });

  it('FAILs with the fix when the writable layers would live on overlayfs (refused as upper)', () => {
    const ov = join(dir, 'ov');
    for (const d of ['l', 'u', 'w', 'm']) mkdirSync(join(ov, d), { recursive: true });
    const m = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${ov}/l,upperdir=${ov}/u,workdir=${ov}/w`, `${ov}/m`], { encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    try {
      const r = doctor(['doctor', '--json', ...base, '--root', join(ov, 'm', 'root'), '--state', join(ov, 'm', 'state')]);
      assert.equal(r.status, 1);
      const c = byName(r.report, 'overlayfs')!;
      assert.equal(c.status, 'FAIL');
      assert.match(c.fix!, /--root on a filesystem overlay accepts as upper/);
      // The kernel agrees: its own overlay mount with an upper dir there is refused.
      const probe = join(ov, 'm', 'p');
      for (const d of ['l', 'u', 'w', 'm']) mkdirSync(join(probe, d), { recursive: true });
      const k = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${probe}/l,upperdir=${probe}/u,workdir=${probe}/w`, `${probe}/m`]);
      assert.notEqual(k.status, 0, 'the kernel refuses overlayfs as upper');
    } finally {
      spawnSync('umount', [`${ov}/m`]);
    }
  });

  it('FAILs with the fix when no cgroup filesystem is mounted (private mount namespace)', () => {
    const r = doctor(['doctor', '--json', ...base], (cmd) => [
      'unshare', '-m', '--propagation', 'private', 'sh', '-c', 'umount -R /sys/fs/cgroup && exec "$@"', 'sh', ...cmd,
    ]);
    assert.equal(r.status, 1);
    const c = byName(r.report, 'layout')!;
    assert.equal(c.area, 'cgroups');
    assert.equal(c.status, 'FAIL');
    assert.match(c.fix!, /mount -t cgroup2 none \/sys\/fs\/cgroup/);
    // The host's cgroups are untouched.
    assert.ok(existsSync('/sys/fs/cgroup/memory') || existsSync('/sys/fs/cgroup/cgroup.controllers'));
  });

  it('judges the systemd cgroup driver by whether systemd (and its bus) run here', () => {
    const r = doctor(['doctor', '--json', ...base, '--cgroup-driver', 'systemd']);
    const c = byName(r.report, 'driver')!;
    if (!existsSync('/run/systemd/system')) {
      assert.equal(c.status, 'FAIL');
      assert.match(c.fix!, /cgroup-driver = "cgroupfs"/);
      assert.equal(r.status, 1);
    } else {
      assert.equal(c.status, existsSync('/run/dbus/system_bus_socket') ? 'PASS' : 'FAIL');
    }
  });

  it('reports a configuration that does not load as a FAIL', () => {
    const r = doctor(['doctor', '--json', ...base, '--cgroup-driver', 'bogus']);
    assert.equal(r.status, 1);
    assert.equal(r.report.checks.length, 1);
    assert.match(r.report.checks[0]!.message, /cgroup-driver/);
  });

  describe('--online', () => {
    let reg: TestRegistry;
    before(async () => {
      reg = await startRegistry();
    });
    after(async () => reg?.stop());

    it('reaches a configured registry and FAILs on one nobody serves', async () => {
      const closed = await new Promise<number>((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => resolve(port));
        });
      });
      const conf = join(dir, 'registries.conf');
      writeFileSync(conf, [
        `[[registry]]\nlocation = "${reg.host}"\ninsecure = true\n`,
        `[[registry]]\nlocation = "127.0.0.1:${closed}"\ninsecure = true\n`,
        // No internet here: keep the default docker.io out of this test.
        `[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\nblocked = true\n`,
      ].join('\n'));
      const r = doctor(['doctor', '--json', '--online', ...base, '--registries-conf', conf]);
      const regs = r.report.checks.filter((c) => c.area === 'registries');
      assert.deepEqual(regs.map((c) => c.name).sort(), [reg.host, `127.0.0.1:${closed}`].sort());
      assert.equal(byName(r.report, reg.host)!.status, 'PASS');
      const bad = byName(r.report, `127.0.0.1:${closed}`)!;
      assert.equal(bad.status, 'FAIL');
      assert.match(bad.message, /ECONNREFUSED/);
      assert.equal(r.status, 1);
    });
  });
});
