// GetContainerEvents through a real bin/nori: CREATED/STARTED/STOPPED/DELETED in order with the
// pod's status and all its container statuses; a subscriber that never reads does not hold up
// other calls; a cancelled subscription ends on the server.

import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { criClient, type CriClient } from '../../helpers/cri-client';
import { startNori, removeAllPodsAndCleanup, type NoriProcess } from '../../helpers/daemon';
import { pushFixtures, startRegistry, type PushedFixtures, type TestRegistry } from '../../helpers/registry';
import { until } from '../../helpers/until';

type Msg = Record<string, any>;

function subscribe(nori: NoriProcess, client: CriClient = nori.client): { stream: grpc.ClientReadableStream<Msg>; events: Msg[] } {
  const rt = client.runtime as grpc.Client & Record<string, Function>;
  const stream = rt.GetContainerEvents!.call(rt, {}) as grpc.ClientReadableStream<Msg>;
  const events: Msg[] = [];
  stream.on('data', (m: Msg) => events.push(m));
  stream.on('error', () => undefined);
  return { stream, events };
}

describe('GetContainerEvents (root, real bin/nori)', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let fx: PushedFixtures;
  let nori: NoriProcess;
  let logDir: string;
  const args = ['--registries-conf', '/nonexistent/registries.conf'];

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    reg = await startRegistry();
    fx = await pushFixtures(reg, { names: ['busybox'] });
    nori = await startNori({ extraArgs: args });
    logDir = mkdtempSync('/tmp/nori-events-logs-');
  });
  after(async () => {
    // The last test stops nori: start it again on the same dirs so its pods can be removed.
    if (nori && (nori.proc.exitCode !== null || nori.proc.signalCode !== null)) nori = await startNori({ dir: nori.dir, extraArgs: args });
    if (nori) await removeAllPodsAndCleanup(nori);
    await reg?.stop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  it('sends create/start/stop/remove in order with correct statuses; a stalled subscriber stalls nothing; cancel ends the call', async () => {
    const image = fx.get('busybox').reference;
    const c = nori.client;
    await c.call('PullImage', { image: { image } });
    const podConfig = { metadata: { name: 'evpod', namespace: 'ns', uid: 'ev-u', attempt: 0 }, log_directory: logDir, linux: { security_context: { namespace_options: { network: 'NODE' } } } };
    const { pod_sandbox_id: pod } = await c.call('RunPodSandbox', { config: podConfig });
    const { container_id: other } = await c.call('CreateContainer', {
      pod_sandbox_id: pod, sandbox_config: podConfig,
      // 200 KiB of annotations: every event of this pod carries them, so a subscriber that does
      // not read fills its HTTP/2 window with the first event and nori's sends to it block.
      config: { metadata: { name: 'other' }, image: { image }, command: ['sh', '-c', 'sleep 1000'], log_path: 'other.log', annotations: { big: 'y'.repeat(200 * 1024) } },
    });

    const a = subscribe(nori);
    const b = subscribe(nori);
    // On a connection of its own, as another client would be: a paused stream holds its
    // connection's flow-control window on the client side.
    const stalledClient = criClient(nori.socket);
    const stalled = subscribe(nori, stalledClient);
    stalled.stream.pause(); // never reads
    await new Promise((r) => setTimeout(r, 300));

    const { container_id: id } = await c.call('CreateContainer', {
      pod_sandbox_id: pod, sandbox_config: podConfig,
      config: { metadata: { name: 'ev' }, image: { image }, command: ['sh', '-c', "trap 'exit 0' TERM; echo trapped; while :; do sleep 0.1; done"], log_path: 'ev.log' },
    });
    await c.call('StartContainer', { container_id: id });
    // A TERM before the shell has set its trap ends it with 143: stop only once it says so.
    await until('the trap is set', () => existsSync(join(logDir, 'ev.log')) && readFileSync(join(logDir, 'ev.log'), 'utf8').includes('trapped'));
    await c.call('StopContainer', { container_id: id, timeout: 10 });
    const t0 = Date.now();
    await c.call('ListContainers', {});
    assert.ok(Date.now() - t0 < 5000, 'other calls answer while a subscriber does not read');
    await c.call('RemoveContainer', { container_id: id });

    await until('4 events on both readers', () => a.events.filter((e) => e.container_id === id).length >= 4 && b.events.filter((e) => e.container_id === id).length >= 4);
    const mine = a.events.filter((e) => e.container_id === id);
    assert.deepEqual(mine.map((e) => e.container_event_type), ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
    assert.deepEqual(b.events.filter((e) => e.container_id === id).map((e) => e.container_event_type), mine.map((e) => e.container_event_type));
    const stateOf = (e: Msg, cid: string) => e.containers_statuses.find((s: Msg) => s.id === cid)?.state;
    assert.deepEqual(mine.map((e) => stateOf(e, id)), ['CONTAINER_CREATED', 'CONTAINER_RUNNING', 'CONTAINER_EXITED', undefined]);
    for (const e of mine) {
      assert.equal(e.pod_sandbox_status.id, pod);
      assert.equal(e.pod_sandbox_status.state, 'SANDBOX_READY');
      assert.equal(stateOf(e, other), 'CONTAINER_CREATED', 'every container of the pod is reported');
      assert.ok(e.created_at > 0);
    }
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.created_at >= mine[i - 1]!.created_at, 'timestamps in order');
    const stopped = mine[2]!.containers_statuses.find((s: Msg) => s.id === id);
    assert.equal(stopped.exit_code, 0);
    assert.equal(stopped.reason, 'Completed');

    // The pod's own lifecycle comes as events whose container id is the sandbox id (as containerd).
    const before = a.events.length;
    await c.call('StopPodSandbox', { pod_sandbox_id: pod });
    await c.call('RemovePodSandbox', { pod_sandbox_id: pod });
    await until('pod events', () => a.events.filter((e) => e.container_id === pod).length >= 2);
    const tail = a.events.slice(before).map((e) => [e.container_id === pod ? 'pod' : e.container_id === other ? 'other' : '?', e.container_event_type]);
    assert.deepEqual(tail, [
      ['other', 'CONTAINER_STOPPED_EVENT'],
      ['pod', 'CONTAINER_STOPPED_EVENT'],
      ['other', 'CONTAINER_DELETED_EVENT'],
      ['pod', 'CONTAINER_DELETED_EVENT'],
    ]);
    const podStopped = a.events.slice(before).find((e) => e.container_id === pod)!;
    assert.equal(podStopped.pod_sandbox_status.state, 'SANDBOX_NOTREADY');

    a.stream.cancel();
    await until('the server ends the cancelled call', () =>
      nori.logs.some((l) => l.rpc === 'GetContainerEvents' && l.code === 'CANCELLED'),
    );
    b.stream.cancel();
    stalled.stream.cancel();
    stalledClient.close();
  });

  it('a pod run shows as CREATED and STARTED of the sandbox id; shutdown ends open subscriptions with UNAVAILABLE', async () => {
    const s = subscribe(nori);
    let status: any;
    s.stream.on('error', (e: any) => (status = e));
    await new Promise((r) => setTimeout(r, 300));
    const podConfig = { metadata: { name: 'evpod2', namespace: 'ns', uid: 'ev-u2', attempt: 0 }, log_directory: logDir, linux: { security_context: { namespace_options: { network: 'NODE' } } } };
    const { pod_sandbox_id: pod } = await nori.client.call('RunPodSandbox', { config: podConfig });
    await until('pod events', () => s.events.filter((e) => e.container_id === pod).length >= 2);
    assert.deepEqual(s.events.filter((e) => e.container_id === pod).map((e) => e.container_event_type), ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT']);
    assert.equal(s.events[0].pod_sandbox_status.state, 'SANDBOX_READY');
    await nori.client.call('StopPodSandbox', { pod_sandbox_id: pod });
    await nori.client.call('RemovePodSandbox', { pod_sandbox_id: pod });
    const t0 = Date.now();
    await nori.stop();
    assert.ok(Date.now() - t0 < 5000, `shutdown took ${Date.now() - t0} ms with a subscriber open`);
    await until('stream error', () => status !== undefined);
    assert.equal(status.code, 14 /* UNAVAILABLE */);
    assert.match(status.details, /shutting down/);
  });
});
