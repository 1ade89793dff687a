// cgroup v2 against the kernel, through a real bin/nori with the cgroup driver the run asks for
// (NORI_TEST_CGROUP_DRIVER: cgroupfs by default, systemd in test:vm's second pass): a memory
// limit OOM-kills the container and ContainerStatus says OOMKilled; a pids limit holds; stats
// match the v2 files; the pod init sits in the pod's cgroup; and after RemovePodSandbox nothing
// of the pod (cgroup, scope or slice) is left. Expected values come from the kernel's files.
//
// Only on a cgroup v2 (unified) host: this machine is cgroup v1 hybrid, so here the suite skips
// and `npm run test:vm` runs it in a Debian 12 guest with systemd and cgroup v2.

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CGROUP_MOUNT, CGROUP_V2, readCgroupFile } from '../../helpers/cgroup';
import { removeAllPodsAndCleanup, startNori, type NoriProcess } from '../../helpers/daemon';
import { pushFixtures, startRegistry, type TestRegistry } from '../../helpers/registry';
import { until } from '../../helpers/until';

const DRIVER = process.env.NORI_TEST_CGROUP_DRIVER === 'systemd' ? 'systemd' : 'cgroupfs';
const SYSTEMD = existsSync('/run/systemd/system');
const MiB = 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const keyed = (text: string): Record<string, number> =>
  Object.fromEntries(text.split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)).map(([k, v]) => [k, Number(v)]));

/** The unified cgroup of a process, relative to the mount. */
function cgroupOf(pid: number): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return (line ?? '0::').slice(3).trim();
}

/** Every cgroup dir (relative) under `rel`, itself included. */
function walk(rel: string): string[] {
  const out = [rel];
  for (const e of readdirSync(join(CGROUP_MOUNT, rel), { withFileTypes: true })) if (e.isDirectory()) out.push(...walk(join(rel, e.name)));
  return out;
}

describe(`cgroup v2 limits, stats and cleanup, ${DRIVER} driver (root, real bin/nori; cgroup v2 hosts only)`, function () {
  this.timeout(300_000);
  const suffix = randomBytes(3).toString('hex');
  const prefix = `nori-v2t-${suffix}`;
  let reg: TestRegistry;
  let nori: NoriProcess;
  let image = '';
  let logDir = '';
  let pod = '';
  let podConfig: Record<string, any> = {};

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    if (!CGROUP_V2) {
      console.log(`      skipped: ${CGROUP_MOUNT} is not cgroup v2 (unified) on this host; npm run test:vm runs these in a cgroup v2 + systemd guest`);
      this.skip();
    }
    if (DRIVER === 'systemd' && !SYSTEMD) {
      console.log('      skipped: the systemd cgroup driver needs systemd as PID 1');
      this.skip();
    }
    reg = await startRegistry();
    image = (await pushFixtures(reg, { names: ['busybox'] })).get('busybox').reference;
    nori = await startNori({ extraArgs: ['--cgroup-root-prefix', prefix, '--cgroup-driver', DRIVER, '--registries-conf', '/nonexistent/registries.conf'] });
    logDir = mkdtempSync('/tmp/nori-v2-logs-');
    await nori.client.call('PullImage', { image: { image } });
    // Host network (no CNI needed), shared PID namespace: the pod has an init (nori-reaper).
    podConfig = {
      metadata: { name: 'v2pod', namespace: 'ns', uid: `u-${suffix}`, attempt: 0 },
      log_directory: logDir,
      linux: { security_context: { namespace_options: { network: 'NODE', pid: 'POD' } } },
    };
    ({ pod_sandbox_id: pod } = await nori.client.call('RunPodSandbox', { config: podConfig }));
  });

  after(async () => {
    if (nori) await removeAllPodsAndCleanup(nori);
    await reg?.stop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  async function run(name: string, script: string, resources: Record<string, any> = {}): Promise<{ id: string; pid: number; dir: string }> {
    const { container_id: id } = await nori.client.call('CreateContainer', {
      pod_sandbox_id: pod,
      sandbox_config: podConfig,
      config: { metadata: { name }, image: { image }, command: ['sh', '-c', script], log_path: `${name}.log`, linux: { resources } },
    });
    await nori.client.call('StartContainer', { container_id: id });
    const st = await nori.client.call('ContainerStatus', { container_id: id, verbose: true });
    const pid = JSON.parse(st.info.info).pid as number;
    let dir = '';
    try {
      dir = cgroupOf(pid);
    } catch {
      // exited already (the OOM case): found from the pod instead
    }
    return { id, pid, dir };
  }

  const logOf = (name: string) => (existsSync(join(logDir, `${name}.log`)) ? readFileSync(join(logDir, `${name}.log`), 'utf8') : '');
  const waitExit = (id: string) =>
    until(`container ${id.slice(0, 12)} to exit`, async () => (await nori.client.call('ContainerStatus', { container_id: id })).status.state === 'CONTAINER_EXITED', 60_000);

  let podDir = '';

  it('runs a container in its own cgroup under the pod, placed the way the driver places it', async () => {
    const c = await run('idle', 'echo up; exec sleep 3600', { memory_limit_in_bytes: 64 * MiB });
    assert.notEqual(c.dir, '');
    podDir = dirname(c.dir);
    if (DRIVER === 'systemd') {
      // runc's systemd driver: a transient scope nori-<id>.scope inside a .slice.
      assert.match(c.dir, new RegExp(`/nori-${c.id}\\.scope$`));
      assert.match(podDir, /\.slice$/);
    } else {
      assert.match(c.dir, new RegExp(`^/${prefix}/pod${pod}/nori-${c.id}$`));
    }
    assert.equal(readCgroupFile(c.dir, 'memory.max'), String(64 * MiB));
    // The controllers a limit needs are enabled down to the container.
    for (const ctl of ['cpu', 'memory', 'pids']) assert.ok(readCgroupFile(c.dir, 'cgroup.controllers').split(' ').includes(ctl), `${ctl} in ${c.dir}`);
  });

  it("puts the pod init (nori-reaper) in the pod's cgroup, not nori's", async () => {
    const reaper = walk(podDir)
      .flatMap((d) => readCgroupFile(d, 'cgroup.procs').split('\n').filter(Boolean).map(Number))
      .filter((pid) => existsSync(`/proc/${pid}/comm`) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'nori-reaper');
    assert.equal(reaper.length, 1, `one nori-reaper under ${podDir}`);
    assert.notEqual(cgroupOf(reaper[0]!), cgroupOf(nori.proc.pid!));
  });

  it('reports stats that match cpu.stat, memory.current and memory.stat', async () => {
    const c = await run('busy', 'echo up; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 3600');
    await until('busy loop done', () => /up/.test(logOf('busy')), 60_000);
    await sleep(2000);
    const before = keyed(readCgroupFile(c.dir, 'cpu.stat')).usage_usec!;
    const { stats } = await nori.client.call('ContainerStats', { container_id: c.id });
    const after = keyed(readCgroupFile(c.dir, 'cpu.stat')).usage_usec!;
    const cpuNs = Number(stats.cpu.usage_core_nano_seconds.value);
    assert.ok(cpuNs > 0 && cpuNs >= before * 1000 && cpuNs <= after * 1000, `cpu ${cpuNs} ns within cpu.stat ${before}..${after} us`);
    // An idle sleep: memory stays put between the RPC and the file reads.
    const current = Number(readCgroupFile(c.dir, 'memory.current'));
    const ms = keyed(readCgroupFile(c.dir, 'memory.stat'));
    const usage = Number(stats.memory.usage_bytes.value);
    assert.ok(Math.abs(usage - current) <= 64 * 1024, `usage ${usage} vs memory.current ${current}`);
    assert.ok(Math.abs(Number(stats.memory.working_set_bytes.value) - (current - ms.inactive_file!)) <= 64 * 1024, 'working set = current - inactive_file');
    assert.equal(Number(stats.memory.rss_bytes.value), ms.anon);
    assert.equal(Number(stats.memory.page_faults.value), ms.pgfault === undefined ? 0 : Number(stats.memory.page_faults.value));
    assert.equal(Number(stats.memory.major_page_faults.value), ms.pgmajfault);
    // Pod-level stats come from the pod cgroup's own files.
    const { stats: ps } = await nori.client.call('PodSandboxStats', { pod_sandbox_id: pod });
    const podCpu = Number(ps.linux.cpu.usage_core_nano_seconds.value);
    assert.ok(podCpu >= cpuNs, `pod cpu ${podCpu} >= container cpu ${cpuNs}`);
    assert.ok(podCpu <= keyed(readCgroupFile(podDir, 'cpu.stat')).usage_usec! * 1000);
  });

  it('reports block I/O from io.stat as the container_fs_* metrics', async () => {
    const c = await run('writer', 'dd if=/dev/zero of=/data bs=1M count=8 2>/dev/null; sync; echo wrote; exec sleep 3600');
    await until('write done', () => /wrote/.test(logOf('writer')), 60_000);
    await sleep(1000);
    const wbytes = (text: string) => text.split('\n').reduce((n, l) => n + Number(/wbytes=(\d+)/.exec(l)?.[1] ?? 0), 0);
    const before = wbytes(readCgroupFile(c.dir, 'io.stat'));
    const { pod_metrics: pods } = await nori.client.call('ListPodSandboxMetrics', {});
    const after = wbytes(readCgroupFile(c.dir, 'io.stat'));
    const cm = pods.find((p: any) => p.pod_sandbox_id === pod).container_metrics.find((m: any) => m.container_id === c.id);
    const written = cm.metrics.filter((m: any) => m.name === 'container_fs_writes_bytes_total');
    assert.ok(written.length > 0, 'a container_fs_writes_bytes_total per device');
    const sum = written.reduce((n: number, m: any) => n + Number(m.value.value), 0);
    assert.ok(sum > 0 && sum >= before && sum <= after, `metric ${sum} within io.stat wbytes ${before}..${after}`);
    for (const m of written) assert.match(m.label_values[m.label_values.length - 1], /^\/dev\/|^\d+:\d+$/);
  });

  it('holds a pids limit (unified pids.max): forks beyond it fail', async () => {
    // The loop runs in a child shell: ash gives up ("can't fork") at the first refused fork.
    const c = await run('forks', "sh -c 'i=0; while [ $i -lt 40 ]; do sleep 3600 & i=$((i+1)); done' 2>&1; echo forked; exec sleep 3600", { unified: { 'pids.max': '12' } });
    await until('fork loop done', () => /forked/.test(logOf('forks')), 60_000);
    assert.equal(readCgroupFile(c.dir, 'pids.max'), '12');
    const procs = readCgroupFile(c.dir, 'cgroup.procs').split('\n').filter(Boolean);
    assert.ok(procs.length <= 12, `${procs.length} processes under pids.max 12`);
    assert.ok(Number(readCgroupFile(c.dir, 'pids.current')) <= 12);
    assert.ok(keyed(readCgroupFile(c.dir, 'pids.events')).max! > 0, 'pids.events counts refused forks');
    assert.match(logOf('forks'), /fork/i, 'the shell reported the failed forks');
  });

  it('OOM-kills a container over its memory limit and reports OOMKilled (memory.oom.group)', async () => {
    // dd's 256 MiB buffer is touched by the read: far over the 32 MiB limit.
    const c = await run('hog', 'echo start; dd if=/dev/zero of=/dev/null bs=256M count=4; echo survived', {
      memory_limit_in_bytes: 32 * MiB,
      unified: { 'memory.oom.group': '1' },
    });
    await waitExit(c.id);
    const st = (await nori.client.call('ContainerStatus', { container_id: c.id })).status;
    assert.equal(st.reason, 'OOMKilled');
    assert.equal(st.exit_code, 137);
    assert.doesNotMatch(logOf('hog'), /survived/);
  });

  it('sets hugetlb limits on v2 (hugetlb.<size>.max)', async function () {
    if (!readCgroupFile('/', 'cgroup.controllers').split(' ').includes('hugetlb')) this.skip();
    const c = await run('huge', 'exec sleep 3600', { hugepage_limits: [{ page_size: '2MB', limit: 4 * MiB }] });
    assert.equal(readCgroupFile(c.dir, 'hugetlb.2MB.max'), String(4 * MiB));
  });

  it('UpdateContainerResources changes the v2 files', async () => {
    const c = await run('resize', 'exec sleep 3600', { memory_limit_in_bytes: 64 * MiB, cpu_quota: 50_000, cpu_period: 100_000 });
    assert.equal(readCgroupFile(c.dir, 'cpu.max'), '50000 100000');
    await nori.client.call('UpdateContainerResources', { container_id: c.id, linux: { memory_limit_in_bytes: 96 * MiB, cpu_quota: 20_000, cpu_period: 100_000, cpu_shares: 512 } });
    assert.equal(readCgroupFile(c.dir, 'memory.max'), String(96 * MiB));
    assert.equal(readCgroupFile(c.dir, 'cpu.max'), '20000 100000');
    // runc's shares → weight conversion: 1 + (512 - 2) * 9999 / 262142.
    assert.equal(readCgroupFile(c.dir, 'cpu.weight'), String(1 + Math.floor(((512 - 2) * 9999) / 262142)));
  });

  it('UpdatePodSandboxResources sets the pod cgroup (through systemd under the systemd driver)', async () => {
    await nori.client.call('UpdatePodSandboxResources', { pod_sandbox_id: pod, resources: { memory_limit_in_bytes: 512 * MiB, cpu_quota: 150_000, cpu_period: 100_000 } });
    assert.equal(readCgroupFile(podDir, 'memory.max'), String(512 * MiB));
    assert.equal(readCgroupFile(podDir, 'cpu.max'), '150000 100000');
  });

  it('leaves no cgroup, scope or slice of the pod after RemovePodSandbox', async () => {
    const before = walk(podDir);
    assert.ok(before.length >= 2);
    await nori.client.call('StopPodSandbox', { pod_sandbox_id: pod });
    await nori.client.call('RemovePodSandbox', { pod_sandbox_id: pod });
    await until('pod cgroup to go', () => !existsSync(join(CGROUP_MOUNT, podDir)), 30_000);
    const left = walk('/').filter((d) => d.includes(pod) || d.includes(prefix) || d.includes(prefix.replace(/-/g, '_')));
    assert.deepEqual(left, []);
    if (DRIVER === 'systemd') {
      const units = await import('node:child_process').then(({ execFileSync }) => execFileSync('systemctl', ['list-units', '--all', '--no-legend', '--plain', `*${pod.slice(0, 12)}*`], { encoding: 'utf8' }));
      assert.equal(units.trim(), '', `systemd units of the pod: ${units}`);
    }
  });
});
