// Hostile and malformed requests to a real bin/nori: empty requests to every RPC, invalid UTF-8
// in names, ids and paths (sent as raw protobuf so the bytes reach the server), oversized fields,
// path traversal in log and mount paths, ambiguous id prefixes. Each gets a clear status, the
// daemon keeps serving, and nothing is written outside nori's dirs.

import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ENDLESS, RawClient, allRpcs, encode, rpcInfo, statusName, type RawResult } from '../../helpers/raw-grpc';
import { canRun, privateNori, type PrivateNori } from './private_nori';

const S = grpc.status;
const BAD_UTF8 = (s: string) => Buffer.concat([Buffer.from(s), Buffer.from([0xff, 0xfe, 0xc3, 0x28])]);

/** Statuses that mean "the daemon understood and refused": never INTERNAL, UNKNOWN, UNAVAILABLE or UNIMPLEMENTED. */
const CLEAR = new Set([S.OK, S.INVALID_ARGUMENT, S.NOT_FOUND, S.FAILED_PRECONDITION, S.ALREADY_EXISTS]);

/** RPCs whose request names one object: an empty request must be refused as InvalidArgument. */
const NEEDS_ID = [
  'StopPodSandbox', 'RemovePodSandbox', 'PodSandboxStatus', 'PortForward', 'CreateContainer', 'StartContainer', 'StopContainer',
  'RemoveContainer', 'ContainerStatus', 'UpdateContainerResources', 'ReopenContainerLog', 'ExecSync', 'Exec', 'Attach',
  'ContainerStats', 'RunPodSandbox', 'PullImage', 'ImageStatus', 'RemoveImage',
];

describe('hostile and malformed input (real daemon)', function () {
  this.timeout(240_000);
  let env: PrivateNori;
  let raw: RawClient;
  const rawCall = (rpc: string, msg: Record<string, unknown>): Promise<RawResult> => raw.call(rpc, encode(rpcInfo(rpc).requestType, msg));
  const expect = (r: RawResult, code: grpc.status, re?: RegExp) => {
    assert.equal(statusName(r.code), statusName(code), `status ${statusName(r.code)}: ${r.details}`);
    if (re) assert.match(r.details, re);
  };
  const hostPod = (name: string) => env.podConfig(name, { linux: { security_context: { namespace_options: { network: 'NODE' } } } });
  const runHostPod = async (name: string) => (await env.nori.client.call('RunPodSandbox', { config: hostPod(name) })).pod_sandbox_id as string;

  before(async function () {
    if (!canRun()) this.skip();
    env = await privateNori();
    raw = new RawClient(env.nori.socket);
  });
  after(async () => {
    raw?.close();
    await env?.cleanup();
  });
  afterEach(async () => {
    // whatever a case did, the daemon still answers
    if (env) assert.equal((await env.nori.client.call('Version', {}, { deadlineMs: 10_000 })).runtime_name, 'nori');
  });

  it('an empty request to every RPC gets a clear status; those naming an object get InvalidArgument', async () => {
    const seen: string[] = [];
    for (const rpc of allRpcs()) {
      // an event stream stays open until the client goes: its deadline is the expected end
      const endless = ENDLESS.includes(rpc.name);
      const r = await raw.call(rpc, Buffer.alloc(0), endless ? 1500 : 20_000);
      seen.push(`${rpc.name}=${statusName(r.code)}`);
      assert.ok(CLEAR.has(r.code) || (endless && r.code === S.DEADLINE_EXCEEDED), `${rpc.name}: ${statusName(r.code)} ${r.details}`);
      if (NEEDS_ID.includes(rpc.name)) assert.equal(statusName(r.code), 'INVALID_ARGUMENT', `${rpc.name}: ${r.details}`);
    }
    assert.equal(seen.length, allRpcs().length);
  });

  it('bytes that are not a message of the request type get InvalidArgument from every RPC', async () => {
    const frames = [
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), // field 1, length far past the end
      Buffer.from([0x0f]), // wire type 7 does not exist
      Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // an 11-byte varint
    ];
    for (const rpc of allRpcs()) {
      for (const f of frames) {
        const r = await raw.call(rpc, f, 10_000);
        assert.equal(statusName(r.code), 'INVALID_ARGUMENT', `${rpc.name} ${f.toString('hex')}: ${r.details}`);
        assert.match(r.details, new RegExp(`malformed ${rpc.name} request`));
      }
    }
  });

  it('invalid UTF-8 in names, ids, references and paths is InvalidArgument', async () => {
    const pod = env.podConfig('utf8');
    expect(await rawCall('RunPodSandbox', { config: { ...pod, metadata: { ...pod.metadata, name: BAD_UTF8('n') } } }), S.INVALID_ARGUMENT, /UTF-8/);
    expect(await rawCall('RunPodSandbox', { config: { ...pod, metadata: { ...pod.metadata, namespace: BAD_UTF8('ns') } } }), S.INVALID_ARGUMENT, /UTF-8/);
    expect(await rawCall('RunPodSandbox', { config: { ...pod, log_directory: BAD_UTF8('/tmp/x') } }), S.INVALID_ARGUMENT, /UTF-8/);
    for (const rpc of ['StopPodSandbox', 'RemovePodSandbox', 'PodSandboxStatus']) {
      expect(await rawCall(rpc, { pod_sandbox_id: BAD_UTF8('ab') }), S.INVALID_ARGUMENT, /UTF-8/);
    }
    for (const rpc of ['StartContainer', 'StopContainer', 'RemoveContainer', 'ContainerStatus', 'ExecSync', 'Exec']) {
      const exec = rpc.startsWith('Exec') ? { cmd: ['true'], ...(rpc === 'Exec' ? { stdout: true } : {}) } : {};
      expect(await rawCall(rpc, { container_id: BAD_UTF8('ab'), ...exec }), S.INVALID_ARGUMENT, /UTF-8/);
    }
    for (const rpc of ['PullImage', 'ImageStatus', 'RemoveImage']) {
      expect(await rawCall(rpc, { image: { image: BAD_UTF8('busybox:') } }), S.INVALID_ARGUMENT);
    }
    const id = await runHostPod('utf8-ok');
    const ctr = (extra: Record<string, unknown>) => ({
      pod_sandbox_id: id,
      config: { metadata: { name: 'c' }, image: { image: env.busybox }, command: ['sleep', '60'], log_path: 'c.log', ...extra },
    });
    expect(await rawCall('CreateContainer', ctr({ metadata: { name: BAD_UTF8('c') } })), S.INVALID_ARGUMENT, /metadata\.name.*UTF-8/);
    expect(await rawCall('CreateContainer', ctr({ image: { image: BAD_UTF8('busybox') } })), S.INVALID_ARGUMENT, /UTF-8/);
    expect(await rawCall('CreateContainer', ctr({ log_path: BAD_UTF8('c.log') })), S.INVALID_ARGUMENT, /log_path.*UTF-8/);
    expect(await rawCall('CreateContainer', ctr({ mounts: [{ container_path: BAD_UTF8('/m'), host_path: env.logDir }] })), S.INVALID_ARGUMENT, /container_path.*UTF-8/);
    expect(await rawCall('CreateContainer', ctr({ mounts: [{ container_path: '/m', host_path: BAD_UTF8(env.logDir) }] })), S.INVALID_ARGUMENT, /host_path.*UTF-8/);
    expect(await rawCall('CreateContainer', ctr({ mounts: [{ container_path: '/m', image: { image: BAD_UTF8('busybox') } }] })), S.INVALID_ARGUMENT, /mount image.*UTF-8/);
    expect(await rawCall('CreateContainer', ctr({ mounts: [{ container_path: '/m', image: { image: 'busybox' }, image_sub_path: BAD_UTF8('www') }] })), S.INVALID_ARGUMENT, /image_sub_path.*UTF-8/);
    // and nothing was created by the refused requests
    assert.deepEqual((await env.nori.client.call('ListContainers', {})).containers, []);
  });

  it('refuses 1 MiB labels and annotations, and a request above the gRPC message limit', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const c = env.nori.client;
    const code = (e: unknown) => statusName((e as grpc.ServiceError).code);
    await assert.rejects(c.call('RunPodSandbox', { config: { ...hostPod('big-labels'), labels: { big } } }), (e) => code(e) === 'INVALID_ARGUMENT');
    await assert.rejects(c.call('RunPodSandbox', { config: { ...hostPod('big-ann'), annotations: { a: big } } }), (e) => code(e) === 'INVALID_ARGUMENT');
    const id = await runHostPod('big-ok');
    await assert.rejects(
      c.call('CreateContainer', { pod_sandbox_id: id, config: { metadata: { name: 'c' }, image: { image: env.busybox }, labels: { big } } }),
      (e) => code(e) === 'INVALID_ARGUMENT' && /labels/.test((e as Error).message),
    );
    // 17 MiB: above nori's (and kubelet's) 16 MiB receive limit; grpc refuses it before any handler
    const huge = await rawCall('RunPodSandbox', { config: { ...hostPod('huge'), annotations: { a: 'y'.repeat(17 * 1024 * 1024) } } });
    assert.equal(statusName(huge.code), 'RESOURCE_EXHAUSTED', huge.details);
    const pods = (await c.call('ListPodSandbox', {})).items as { metadata: { name: string } }[];
    assert.deepEqual(pods.map((p) => p.metadata.name).filter((n) => /big-labels|big-ann|huge/.test(n)), []);
  });

  it('path traversal in log_directory, log_path and mount destinations is refused and writes nothing outside', async () => {
    const tag = `nori-hostile-${env.suffix}`;
    const c = env.nori.client;
    const code = (e: unknown) => statusName((e as grpc.ServiceError).code);
    // log_directory: relative, or with '..'
    const rel = `../../etc/${tag}`;
    await assert.rejects(c.call('RunPodSandbox', { config: { ...hostPod('trav1'), log_directory: rel } }), (e) => code(e) === 'INVALID_ARGUMENT');
    await assert.rejects(c.call('RunPodSandbox', { config: { ...hostPod('trav2'), log_directory: `${env.logDir}/../../etc/${tag}` } }), (e) => code(e) === 'INVALID_ARGUMENT');
    const podId = await runHostPod('trav-ok');
    const create = (name: string, extra: Record<string, unknown>) =>
      c.call('CreateContainer', { pod_sandbox_id: podId, config: { metadata: { name }, image: { image: env.busybox }, command: ['sleep', '60'], log_path: `${name}.log`, ...extra } });
    // log_path: absolute, or escaping the pod's log directory
    await assert.rejects(create('a', { log_path: `/tmp/${tag}.log` }), (e) => code(e) === 'INVALID_ARGUMENT' && /relative/.test((e as Error).message));
    await assert.rejects(create('b', { log_path: `../../../../../../tmp/${tag}.log` }), (e) => code(e) === 'INVALID_ARGUMENT' && /\.\./.test((e as Error).message));
    // mount destinations: relative or with '..'
    await assert.rejects(create('m1', { mounts: [{ container_path: '../../etc/x', host_path: env.logDir }] }), (e) => code(e) === 'INVALID_ARGUMENT');
    await assert.rejects(create('m2', { mounts: [{ container_path: `/../../../tmp/${tag}`, host_path: env.logDir }] }), (e) => code(e) === 'INVALID_ARGUMENT');
    for (const p of [resolve(process.cwd(), rel), `/etc/${tag}`, `/tmp/${tag}.log`, `/tmp/${tag}`]) assert.equal(existsSync(p), false, `${p} was created`);
    // a well-formed request still works and logs where it should
    const ok = await create('fine', {});
    await c.call('StartContainer', { container_id: ok.container_id });
    const logDir = join(env.logDir, 'trav-ok');
    assert.ok(readdirSync(logDir).includes('fine.log'), `fine.log in ${logDir}`);
    assert.deepEqual(
      ((await c.call('ListContainers', {})).containers as { metadata: { name: string } }[]).map((x) => x.metadata.name).sort(),
      ['fine'],
    );
  });

  it('an id prefix of several objects is InvalidArgument naming the ambiguity; exact ids and unique prefixes work', async () => {
    const c = env.nori.client;
    const code = (e: unknown) => statusName((e as grpc.ServiceError).code);
    // host-network pods are cheap: make them until two ids share a first character
    const ids: string[] = ((await c.call('ListPodSandbox', {})).items as { id: string }[]).map((p) => p.id);
    let shared: string | undefined;
    for (let i = 0; i < 17 && !shared; i++) {
      ids.push(await runHostPod(`amb${i}`));
      shared = [...'0123456789abcdef'].find((ch) => ids.filter((id) => id.startsWith(ch)).length >= 2);
    }
    assert.ok(shared, 'two pod ids with one first character');
    const twins = ids.filter((id) => id.startsWith(shared!));
    for (const rpc of ['PodSandboxStatus', 'StopPodSandbox', 'RemovePodSandbox']) {
      await assert.rejects(c.call(rpc, { pod_sandbox_id: shared }), (e) => code(e) === 'INVALID_ARGUMENT' && /ambiguous/.test((e as Error).message), rpc);
    }
    await assert.rejects(c.call('CreateContainer', { pod_sandbox_id: shared, config: { metadata: { name: 'x' }, image: { image: env.busybox } } }), (e) => code(e) === 'INVALID_ARGUMENT');
    for (const id of twins) {
      const st = await c.call('PodSandboxStatus', { pod_sandbox_id: id });
      assert.equal(st.status.state, 'SANDBOX_READY', 'the refused Stop did not stop either pod');
      // a prefix long enough to name one pod
      const unique = id.slice(0, 12);
      assert.equal((await c.call('PodSandboxStatus', { pod_sandbox_id: unique })).status.id, id);
    }
    assert.equal(code(await c.call('PodSandboxStatus', { pod_sandbox_id: 'f'.repeat(64) }).catch((e) => e)), 'NOT_FOUND');

    // containers: in one pod, until two share a first character
    const pod = twins[0]!;
    const cids: string[] = [];
    let cshared: string | undefined;
    for (let i = 0; i < 17 && !cshared; i++) {
      const r = await c.call('CreateContainer', { pod_sandbox_id: pod, config: { metadata: { name: `c${i}` }, image: { image: env.busybox }, command: ['sleep', '60'] } });
      cids.push(r.container_id);
      cshared = [...'0123456789abcdef'].find((ch) => cids.filter((id) => id.startsWith(ch)).length >= 2);
    }
    assert.ok(cshared);
    for (const rpc of ['ContainerStatus', 'StartContainer', 'StopContainer', 'RemoveContainer', 'ExecSync']) {
      await assert.rejects(c.call(rpc, { container_id: cshared, cmd: ['true'] }), (e) => code(e) === 'INVALID_ARGUMENT' && /ambiguous/.test((e as Error).message), rpc);
    }
    const ctwins = cids.filter((id) => id.startsWith(cshared!));
    for (const id of ctwins) assert.equal((await c.call('ContainerStatus', { container_id: id.slice(0, 12) })).status.state, 'CONTAINER_CREATED');
  });
});
