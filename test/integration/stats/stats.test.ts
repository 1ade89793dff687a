// Pod and container stats, metrics, UpdatePodSandboxResources, CheckpointContainer and the
// nori_ Prometheus metrics through a real bin/nori: a pod on its own bridge network with a
// busybox container burning CPU and one holding memory in the pod's /dev/shm (a tmpfs).

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import * as path from 'node:path';
import { CGROUP_V2, readCgroupFile } from '../../helpers/cgroup';
import { removeAllPodsAndCleanup, startNori, type NoriProcess } from '../../helpers/daemon';
import { pushFixtures, startRegistry, type PushedFixtures, type TestRegistry } from '../../helpers/registry';
import { PLUGINS, succeeds } from '../sandbox/env';
import { cniPluginsPresent } from '../../helpers/cni_plugins';
import { scaled } from '../../helpers/slow';

const FAILED_PRECONDITION = 9;
const NOT_FOUND = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

function sampleOf(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** usage_nano_cores of `b` is the CPU used between the two samples over the time between them. */
function assertRate(a: any, b: any): void {
  const expected = ((b.usage_core_nano_seconds.value - a.usage_core_nano_seconds.value) * 1e9) / (b.timestamp - a.timestamp);
  const got = b.usage_nano_cores.value;
  assert.ok(got > 0 && got <= 2.05e9, `nano cores ${got} on a 2-core machine`);
  assert.ok(Math.abs(got - expected) <= expected * 0.01 + 1e6, `nano cores ${got}, expected ${expected} from the two samples`);
}

/** A few TCP connection attempts to a closed port of the pod: SYNs in, RSTs out on its eth0. */
async function poke(ip: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve) => {
      const s = connect({ host: ip, port: 9 });
      s.on('error', () => resolve());
      s.on('connect', () => (s.destroy(), resolve()));
      s.setTimeout(2000, () => (s.destroy(), resolve()));
    });
  }
}

describe('stats and metrics (root, real bin/nori, bridge network)', function () {
  this.timeout(180_000);
  const suffix = randomBytes(3).toString('hex');
  const bridge = `nst${suffix}`;
  const prefix = `nori-stats-${suffix}`;
  let reg: TestRegistry;
  let fx: PushedFixtures;
  let nori: NoriProcess;
  let logDir: string;
  let pod = '';
  let podIp = '';
  let burn = '';
  let mem = '';
  let image = '';

  before(async function () {
    if (process.getuid?.() !== 0 || !cniPluginsPresent()) this.skip();
    reg = await startRegistry();
    fx = await pushFixtures(reg, { names: ['busybox'] });
    image = fx.get('busybox').reference;
    nori = await startNori({ extraArgs: ['--cgroup-root-prefix', prefix, '--cni-bin-dir', PLUGINS, '--registries-conf', '/nonexistent/registries.conf'] });
    writeFileSync(
      path.join(nori.cniConfDir, '10-stats.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: `nori-stats-${suffix}`,
        plugins: [{ type: 'bridge', bridge, isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: `10.231.${1 + (parseInt(suffix, 16) % 250)}.0/24` }]], dataDir: path.join(nori.dir, 'ipam') } }],
      }),
    );
    logDir = mkdtempSync('/tmp/nori-stats-logs-');
    const c = nori.client;
    await c.call('PullImage', { image: { image } });
    const podConfig = { metadata: { name: 'statpod', namespace: 'ns', uid: `u-${suffix}`, attempt: 0 }, log_directory: logDir, labels: { app: 'stats' } };
    ({ pod_sandbox_id: pod } = await c.call('RunPodSandbox', { config: podConfig }));
    podIp = (await c.call('PodSandboxStatus', { pod_sandbox_id: pod })).status.network.ip;
    const mk = async (name: string, script: string) => {
      const { container_id } = await c.call('CreateContainer', {
        pod_sandbox_id: pod,
        sandbox_config: podConfig,
        config: { metadata: { name }, image: { image }, command: ['sh', '-c', script], log_path: `${name}.log`, labels: { role: name } },
      });
      await c.call('StartContainer', { container_id });
      return container_id as string;
    };
    burn = await mk('burn', 'while :; do :; done');
    mem = await mk('mem', 'head -c 67108864 /dev/zero > /dev/shm/fill; echo filled; while :; do sleep 1; done');
    const deadline = Date.now() + scaled(20_000);
    while (!/filled/.test(existsSync(path.join(logDir, 'mem.log')) ? readFileSync(path.join(logDir, 'mem.log'), 'utf8') : '')) {
      if (Date.now() > deadline) throw new Error('mem container did not fill /dev/shm');
      await sleep(100);
    }
  });

  after(async () => {
    if (nori) await removeAllPodsAndCleanup(nori);
    if (existsSync(`/sys/class/net/${bridge}`)) await succeeds('ip', ['link', 'del', bridge]);
    await reg?.stop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  it('container CPU moves: cumulative usage grows and usage_nano_cores is the rate between samples', async () => {
    const a = (await nori.client.call('ContainerStats', { container_id: burn })).stats;
    await sleep(1500);
    const b = (await nori.client.call('ContainerStats', { container_id: burn })).stats;
    assert.equal(b.attributes.id, burn);
    const used = b.cpu.usage_core_nano_seconds.value - a.cpu.usage_core_nano_seconds.value;
    // The machine may be busy (other tests): demand movement, and a rate that matches the samples.
    assert.ok(used > 20e6, `burned ${used} ns in 1.5 s`);
    assertRate(a.cpu, b.cpu);
  });

  it('container memory moves: 64 MiB in /dev/shm shows in usage and working set', async () => {
    const s = (await nori.client.call('ContainerStats', { container_id: mem })).stats;
    assert.ok(s.memory.usage_bytes.value >= 64 * 1024 * 1024, `usage ${s.memory.usage_bytes.value}`);
    assert.ok(s.memory.working_set_bytes.value >= 60 * 1024 * 1024, `working set ${s.memory.working_set_bytes.value}`);
    const other = (await nori.client.call('ContainerStats', { container_id: burn })).stats;
    assert.ok(other.memory.working_set_bytes.value < 32 * 1024 * 1024, 'the burner holds little memory');
  });

  it('PodSandboxStats: pod cgroup CPU and memory, tasks, containers, and eth0 counters that move with traffic', async () => {
    const first = (await nori.client.call('PodSandboxStats', { pod_sandbox_id: pod })).stats;
    assert.equal(first.attributes.id, pod);
    assert.equal(first.attributes.metadata.name, 'statpod');
    assert.deepEqual(first.attributes.labels, { app: 'stats' });
    const lx = first.linux;
    assert.ok(lx.cpu.usage_core_nano_seconds.value > 0);
    assert.ok(lx.memory.usage_bytes.value >= 64 * 1024 * 1024);
    assert.ok(lx.process.process_count.value >= 3, `tasks ${lx.process.process_count.value}`);
    assert.deepEqual(lx.containers.map((c: any) => c.attributes.id).sort(), [burn, mem].sort());
    assert.equal(lx.network.default_interface.name, 'eth0');
    assert.deepEqual(lx.network.interfaces.map((i: any) => i.name), ['eth0']);
    const rx0 = lx.network.default_interface.rx_bytes.value;
    const tx0 = lx.network.default_interface.tx_bytes.value;
    await poke(podIp, 5);
    await sleep(1000);
    const second = (await nori.client.call('PodSandboxStats', { pod_sandbox_id: pod })).stats.linux;
    assert.ok(second.network.default_interface.rx_bytes.value > rx0, 'rx bytes grew');
    assert.ok(second.network.default_interface.tx_bytes.value > tx0, 'tx bytes grew');
    assert.ok(second.cpu.usage_core_nano_seconds.value - lx.cpu.usage_core_nano_seconds.value > 20e6, 'the pod burned CPU');
    assertRate(lx.cpu, second.cpu);
    await assert.rejects(nori.client.call('PodSandboxStats', { pod_sandbox_id: 'f'.repeat(64) }), (e: any) => e.code === NOT_FOUND);
  });

  it('ListPodSandboxStats filters by id and labels', async () => {
    assert.equal((await nori.client.call('ListPodSandboxStats', {})).stats.length, 1);
    assert.equal((await nori.client.call('ListPodSandboxStats', { filter: { id: pod.slice(0, 12) } })).stats.length, 1);
    assert.equal((await nori.client.call('ListPodSandboxStats', { filter: { label_selector: { app: 'stats' } } })).stats.length, 1);
    assert.equal((await nori.client.call('ListPodSandboxStats', { filter: { label_selector: { app: 'other' } } })).stats.length, 0);
    const streamed = await nori.client.stream('StreamPodSandboxStats', { filter: { label_selector: { app: 'stats' } } });
    assert.deepEqual(streamed.flatMap((m) => m.pod_sandbox_stats.map((s: any) => s.attributes.id)), [pod]);
  });

  it('ListMetricDescriptors and ListPodSandboxMetrics: cAdvisor names and labels', async () => {
    const { descriptors } = await nori.client.call('ListMetricDescriptors', {});
    const byName = new Map<string, string[]>(descriptors.map((d: any) => [d.name, d.label_keys]));
    assert.deepEqual(byName.get('container_cpu_usage_seconds_total'), ['id', 'name', 'image']);
    assert.deepEqual(byName.get('container_network_receive_bytes_total'), ['id', 'name', 'image', 'interface']);
    for (const n of ['container_memory_working_set_bytes', 'container_memory_usage_bytes', 'container_memory_rss', 'container_network_transmit_bytes_total']) assert.ok(byName.has(n), n);
    const { pod_metrics } = await nori.client.call('ListPodSandboxMetrics', {});
    assert.equal(pod_metrics.length, 1);
    const pm = pod_metrics[0];
    assert.equal(pm.pod_sandbox_id, pod);
    const rx = pm.metrics.find((m: any) => m.name === 'container_network_receive_bytes_total');
    assert.deepEqual(rx.label_values, [pod, 'statpod', '', 'eth0']);
    assert.equal(rx.metric_type, 'COUNTER');
    assert.ok(rx.value.value > 0);
    const cm = pm.container_metrics.find((c: any) => c.container_id === mem);
    const ws = cm.metrics.find((m: any) => m.name === 'container_memory_working_set_bytes');
    assert.equal(ws.metric_type, 'GAUGE');
    assert.deepEqual(ws.label_values.slice(0, 2), [mem, 'mem']);
    assert.ok(ws.value.value >= 60 * 1024 * 1024);
    for (const m of [...pm.metrics, ...pm.container_metrics.flatMap((c: any) => c.metrics)]) {
      assert.equal(m.label_values.length, byName.get(m.name)?.length, `labels of ${m.name} match its descriptor`);
    }
    const streamed = await nori.client.stream('StreamPodSandboxMetrics', {});
    assert.deepEqual(streamed.flatMap((m) => m.pod_sandbox_metrics.map((p: any) => p.pod_sandbox_id)), [pod]);
  });

  it('UpdatePodSandboxResources writes the pod cgroup limits', async () => {
    const limit = 512 * 1024 * 1024;
    await nori.client.call('UpdatePodSandboxResources', { pod_sandbox_id: pod, resources: { memory_limit_in_bytes: limit, cpu_shares: 512 } });
    if (CGROUP_V2) {
      // cgroup v2 (test:vm's guest): the pod's level as each driver names it; shares as weight.
      const p = prefix.replace(/-/g, '_');
      const dir = process.env.NORI_TEST_CGROUP_DRIVER === 'systemd' ? `${p}.slice/${p}-pod${pod}.slice` : `${prefix}/pod${pod}`;
      assert.equal(Number(readCgroupFile(dir, 'memory.max')), limit);
      assert.equal(Number(readCgroupFile(dir, 'cpu.weight')), 1 + Math.floor((510 * 9999) / 262142));
    } else {
      assert.equal(Number(readCgroupFile(`memory/${prefix}/pod${pod}`, 'memory.limit_in_bytes')), limit);
      assert.equal(Number(readCgroupFile(`cpu/${prefix}/pod${pod}`, 'cpu.shares')), 512);
    }
    const st = (await nori.client.call('PodSandboxStats', { pod_sandbox_id: pod })).stats.linux;
    assert.ok(st.memory.available_bytes.value > 0 && st.memory.available_bytes.value <= limit);
    await assert.rejects(nori.client.call('UpdatePodSandboxResources', { pod_sandbox_id: 'f'.repeat(64) }), (e: any) => e.code === NOT_FOUND);
  });

  it('CheckpointContainer writes an archive, or says clearly why CRIU cannot', async () => {
    const location = path.join(logDir, 'ckpt.tar');
    try {
      await nori.client.call('CheckpointContainer', { container_id: mem, location });
      assert.ok(existsSync(location), 'the archive exists');
    } catch (e: any) {
      assert.equal(e.code, FAILED_PRECONDITION, e.details);
      assert.match(e.details, /checkpointing needs CRIU, and `criu check` fails on this node: .+/);
      assert.ok(!existsSync(location));
    }
    const st = (await nori.client.call('ContainerStatus', { container_id: mem })).status;
    assert.equal(st.state, 'CONTAINER_RUNNING', 'the container keeps running either way');
  });

  it('exports nori_ metrics: containers and sandboxes by state, CNI ADD latency, exits by reason', async () => {
    let text = await scrape(nori.metricsPort);
    assert.equal(sampleOf(text, 'nori_containers', 'state="running"'), 2);
    assert.equal(sampleOf(text, 'nori_pod_sandboxes', 'state="ready"'), 1);
    assert.equal(sampleOf(text, 'nori_cni_operation_duration_seconds_count', 'operation="ADD"'), 1);
    await nori.client.call('StopContainer', { container_id: burn, timeout: 0 });
    text = await scrape(nori.metricsPort);
    assert.equal(sampleOf(text, 'nori_containers', 'state="running"'), 1);
    assert.equal(sampleOf(text, 'nori_containers', 'state="exited"'), 1);
    assert.equal(sampleOf(text, 'nori_container_exits_total', 'reason="Error"'), 1);
  });
});
