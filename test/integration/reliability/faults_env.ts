// The environment of the crash-safety tests: one real bin/nori on private dirs with its own CNI
// network (bridge, subnet, host-local dataDir under the daemon's dir), cgroup prefix and the
// test registry's busybox; restarts on the same dirs, armed or not; pods and containers as
// kubelet would make them. cleanup() removes exactly what it made.

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startNori, type NoriProcess } from '../../helpers/daemon';
import { assertNoLeaks, snapshot } from '../../helpers/leaks';
import type { PushedFixtures, TestRegistry } from '../../helpers/registry';
import { PLUGINS, removeMasqRules, sh, succeeds } from '../sandbox/env';
import { cniPluginsPresent } from '../../helpers/cni_plugins';

export class FaultEnv {
  readonly suffix = randomBytes(3).toString('hex');
  readonly netName = `nori-flt-${this.suffix}`;
  readonly bridge = `nfl${this.suffix}`;
  readonly cgroupPrefix = `nori-flt-${this.suffix}`;
  nori!: NoriProcess;
  dir = '';
  logDir = '';
  image = '';

  constructor(readonly fx: PushedFixtures) {
    this.image = fx.get('busybox').reference;
  }

  /** NORI_FAULT_NETWORK=builtin: the daemon runs the built-in network (own bridge and subnet), no conflist. */
  static readonly builtin = process.env.NORI_FAULT_NETWORK === 'builtin';
  private podCidr = '';

  static usable(): boolean {
    return process.getuid?.() === 0 && cniPluginsPresent();
  }

  get c() {
    return this.nori.client;
  }

  private launch(env: Record<string, string> = {}): Promise<NoriProcess> {
    const net = FaultEnv.builtin ? ['--network', 'builtin', '--bridge', this.bridge, '--pod-cidr', this.podCidr] : [];
    return startNori({
      dir: this.dir || undefined,
      env,
      extraArgs: [...net, '--cgroup-root-prefix', this.cgroupPrefix, '--cni-bin-dir', PLUGINS, '--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json'],
    });
  }

  async start(): Promise<void> {
    this.logDir = mkdtempSync('/tmp/nori-flt-logs-');
    const used = (await sh('ip', ['-4', 'addr'])) + (await sh('ip', ['-4', 'route']));
    let subnet = '';
    do subnet = `10.234.${1 + Math.floor(Math.random() * 254)}.`;
    while (used.includes(subnet));
    this.podCidr = `${subnet}0/24`;
    this.nori = await this.launch();
    this.dir = this.nori.dir;
    if (!FaultEnv.builtin) writeFileSync(
      path.join(this.nori.cniConfDir, '10-faults.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: this.netName,
        plugins: [
          { type: 'bridge', bridge: this.bridge, isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: `${subnet}0/24` }]], dataDir: path.join(this.dir, 'ipam') } },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );
    await this.c.call('PullImage', { image: { image: this.image } });
  }

  get down(): boolean {
    return this.nori.proc.exitCode !== null || this.nori.proc.signalCode !== null;
  }

  /** Kills the daemon (SIGKILL: a crash like the others) if it runs, and starts it again. */
  async restart(env: Record<string, string> = {}): Promise<void> {
    if (!this.down) await this.kill();
    this.nori.client.close();
    this.nori = await this.launch(env);
    await snapshot(this.nori);
  }

  /** kill -9; a snapshot first, so the leak checker knows every process the daemon had. */
  async kill(): Promise<void> {
    await snapshot(this.nori);
    await this.nori.stop('SIGKILL');
    this.nori.client.close();
  }

  /** Waits until the daemon has died at its fault point (by SIGKILL, not by anything else). */
  async died(): Promise<void> {
    const end = Date.now() + 30_000;
    while (!this.down) {
      if (Date.now() > end) throw new Error('nori did not die at the fault point');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(this.nori.proc.signalCode, 'SIGKILL', `nori exited with ${this.nori.proc.exitCode}, not by the fault point`);
  }

  /** On the built-in network the victim maps a hostPort, so its nft element and claim are checked too. */
  private readonly victimHostPort = 20000 + Math.floor(Math.random() * 20000);

  podConfig(name: string, attempt = 0) {
    const port_mappings = FaultEnv.builtin && name === 'victim' ? [{ protocol: 'TCP', container_port: 80, host_port: this.victimHostPort }] : [];
    return { metadata: { name, namespace: 'faults', uid: `uid-${name}`, attempt }, hostname: name, log_directory: this.logDir, labels: { app: name }, port_mappings };
  }

  ctrConfig(name: string, attempt = 0) {
    // one process that never forks: a new pid in the cgroup would look like a leak
    return { metadata: { name, attempt }, image: { image: this.image }, command: ['sleep', '86400'], log_path: `${name}.log` };
  }

  async runPod(name: string, attempt = 0): Promise<string> {
    return (await this.c.call('RunPodSandbox', { config: this.podConfig(name, attempt) })).pod_sandbox_id;
  }

  async createCtr(pod: string, podName: string, name: string, attempt = 0): Promise<string> {
    return (await this.c.call('CreateContainer', { pod_sandbox_id: pod, config: this.ctrConfig(name, attempt), sandbox_config: this.podConfig(podName, attempt) })).container_id;
  }

  /** A pod with one started container (both of `attempt`, as kubelet does after a reboot); returns the ids and the container's pid. */
  async runningPod(name: string, attempt = 0): Promise<{ pod: string; ctr: string; pid: number }> {
    const pod = await this.runPod(name, attempt);
    const ctr = await this.createCtr(pod, name, name, attempt);
    await this.c.call('StartContainer', { container_id: ctr });
    await snapshot(this.nori);
    return { pod, ctr, pid: await this.pidOf(ctr) };
  }

  async pidOf(ctr: string): Promise<number> {
    return JSON.parse((await this.c.call('ContainerStatus', { container_id: ctr, verbose: true })).info.info).pid;
  }

  async state(ctr: string): Promise<string> {
    return (await this.c.call('ContainerStatus', { container_id: ctr })).status.state;
  }

  async removePod(id: string): Promise<void> {
    await this.c.call('StopPodSandbox', { pod_sandbox_id: id });
    await this.c.call('RemovePodSandbox', { pod_sandbox_id: id });
  }

  async removeAllPodsAndImages(): Promise<void> {
    if (this.down) await this.restart();
    for (const p of (await this.c.call('ListPodSandbox', {})).items) await this.removePod(p.id).catch(() => undefined);
    for (const i of (await this.c.call('ListImages', {})).images) await this.c.call('RemoveImage', { image: { image: i.id } }).catch(() => undefined);
  }

  /** The suites' teardown: with every pod and image gone, nothing at all may be left; then clean up. */
  async removeAllAndAssertClean(reg: TestRegistry | undefined): Promise<void> {
    if (!this.nori) return;
    try {
      await this.removeAllPodsAndImages();
      await assertNoLeaks(this.nori);
    } finally {
      await this.cleanup();
      await reg?.stop();
    }
  }

  async cleanup(): Promise<void> {
    if (this.nori) await this.nori.cleanup().catch((e) => console.error(`cleanup of ${this.dir}: ${(e as Error).message}`));
    if (existsSync(`/sys/class/net/${this.bridge}`)) await succeeds('ip', ['link', 'del', this.bridge]);
    await removeMasqRules(this.netName);
    if (FaultEnv.builtin) await succeeds('nft', ['delete', 'table', 'inet', `nori_${this.bridge}`]);
    if (this.logDir) rmSync(this.logDir, { recursive: true, force: true });
  }
}
