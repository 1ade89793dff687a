// End to end through a real bin/nori: pull, pod, container, ExecSync, then kill -9 of nori and
// a restart while containers run. Host network, so no CNI is involved.

import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startNori, type NoriProcess, removeAllPodsAndCleanup } from '../../helpers/daemon';
import { pushFixtures, startRegistry, type PushedFixtures, type TestRegistry } from '../../helpers/registry';
import { until } from '../../helpers/until';

describe('containers through the daemon (kill -9 and restart)', function () {
  this.timeout(180_000);
  let reg: TestRegistry;
  let fx: PushedFixtures;
  let nori: NoriProcess;
  let logDir: string;
  const args = ['--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json'];

  before(async () => {
    reg = await startRegistry();
    fx = await pushFixtures(reg, { names: ['busybox'] });
    nori = await startNori({ extraArgs: args });
    logDir = mkdtempSync('/tmp/nori-ctr-logs-');
  });
  after(async () => {
    if (nori) await removeAllPodsAndCleanup(nori);
    await reg?.stop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  it('keeps containers running across kill -9, records exits that happened while down', async () => {
    const image = fx.get('busybox').reference;
    const c = () => nori.client;
    await c().call('PullImage', { image: { image } });
    const podConfig = {
      metadata: { name: 'p', namespace: 'ns', uid: 'u1', attempt: 0 },
      log_directory: logDir,
      linux: { security_context: { namespace_options: { network: 'NODE' } } },
    };
    const { pod_sandbox_id: pod } = await c().call('RunPodSandbox', { config: podConfig });
    const mk = async (name: string, script: string) => {
      const { container_id } = await c().call('CreateContainer', {
        pod_sandbox_id: pod,
        sandbox_config: podConfig,
        config: { metadata: { name }, image: { image }, command: ['sh', '-c', script], log_path: `${name}.log`, labels: { app: name } },
      });
      await c().call('StartContainer', { container_id });
      return container_id as string;
    };
    const keep = await mk('keep', 'echo started; while true; do sleep 0.1; done');
    const dies = await mk('dies', "trap 'exit 9' TERM; while true; do sleep 0.1; done");
    const st = await c().call('ContainerStatus', { container_id: keep, verbose: true });
    assert.equal(st.status.state, 'CONTAINER_RUNNING');
    assert.equal(st.status.image.image, image);
    assert.equal(st.status.log_path, join(logDir, 'keep.log'));
    const pid = JSON.parse(st.info.info).pid as number;
    assert.ok(pid > 0);
    await until('log line', () => existsSync(join(logDir, 'keep.log')) && /stdout F started\n/.test(readFileSync(join(logDir, 'keep.log'), 'utf8')));
    const ex = await c().call('ExecSync', { container_id: keep, cmd: ['sh', '-c', 'echo hi; exit 3'], timeout: 10 });
    assert.equal(Buffer.from(ex.stdout).toString(), 'hi\n');
    assert.equal(ex.exit_code, 3);
    const listed = await c().call('ListContainers', { filter: { label_selector: { app: 'dies' } } });
    assert.deepEqual(listed.containers.map((x: any) => x.id), [dies]);

    await nori.stop('SIGKILL');
    // While nori is down: one container keeps running, the other is told to exit.
    const diesPid = Number(readFileSync(join(nori.state, 'containers', dies, 'pidfile'), 'utf8'));
    process.kill(diesPid, 'SIGTERM');
    await until('exit file', () => existsSync(join(nori.state, 'exits', dies)));
    nori = await startNori({ dir: nori.dir, extraArgs: args });

    const st2 = await c().call('ContainerStatus', { container_id: keep, verbose: true });
    assert.equal(st2.status.state, 'CONTAINER_RUNNING');
    assert.equal(JSON.parse(st2.info.info).pid, pid);
    const d = await c().call('ContainerStatus', { container_id: dies });
    assert.equal(d.status.state, 'CONTAINER_EXITED');
    assert.equal(d.status.exit_code, 9);
    assert.equal(d.status.reason, 'Error');
    const ex2 = await c().call('ExecSync', { container_id: keep, cmd: ['echo', 'again'], timeout: 10 });
    assert.equal(Buffer.from(ex2.stdout).toString(), 'again\n');

    await c().call('StopContainer', { container_id: keep, timeout: 1 });
    const st3 = await c().call('ContainerStatus', { container_id: keep });
    assert.equal(st3.status.state, 'CONTAINER_EXITED');
    await c().call('RemoveContainer', { container_id: keep });
    await c().call('RemoveContainer', { container_id: keep });
    await c().call('StopPodSandbox', { pod_sandbox_id: pod });
    await c().call('RemovePodSandbox', { pod_sandbox_id: pod });
    const left = await c().call('ListContainers', {});
    assert.deepEqual(left.containers, []);
  });
});
