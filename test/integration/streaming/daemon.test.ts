// Exec, Attach and PortForward end to end: the CRI calls on a real bin/nori hand out URLs, and
// the SPDY client drives them against real containers (runc, conmon) in a pod with its own
// network namespace (CNI bridge).

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, startNori, type NoriProcess, removeAllPodsAndCleanup } from '../../helpers/daemon';
import { pushFixtures, startRegistry, type PushedFixtures, type TestRegistry } from '../../helpers/registry';
import { SpdyClient, type ClientStream, openRemotecommandStreams } from '../../helpers/spdy-client';
import { PLUGINS, sh, succeeds } from '../sandbox/env';
import { cniPluginsPresent } from '../../helpers/cni_plugins';
import { skipWithoutIdmappedTmpfs } from '../../helpers/kernel';
import { until } from '../../helpers/until';

const V4 = 'v4.channel.k8s.io';
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
const FAILED_PRECONDITION = 9;

async function status(error: ClientStream): Promise<{ status: string; reason?: string; details?: { causes: { reason: string; message: string }[] } }> {
  return JSON.parse((await error.finished()).toString());
}

// Once as is, once in a pod with its own user namespace (hostUsers: false): the CNI bridge then
// attaches a network namespace that namespace owns, and exec enters it first.
const VARIANTS = [
  { label: '', userns: undefined },
  { label: ' in a pod with its own user namespace', userns: { mode: 'POD', uids: [{ container_id: 0, host_id: 2_800_000, length: 65536 }], gids: [{ container_id: 0, host_id: 2_800_000, length: 65536 }] } },
];

for (const variant of VARIANTS) describe(`streaming through the daemon (Exec, Attach, PortForward)${variant.label}`, function () {
  this.timeout(180_000);
  const suffix = randomBytes(3).toString('hex');
  const bridge = `nst${suffix}`;
  let reg: TestRegistry;
  let fx: PushedFixtures;
  let nori: NoriProcess;
  let logDir: string;
  let pod: string;
  let podConfig: object;
  const args = ['--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json', '--cni-bin-dir', PLUGINS];

  const c = () => nori.client;
  const container = async (name: string, image: string, extra: object = {}) => {
    const { container_id } = await c().call('CreateContainer', {
      pod_sandbox_id: pod,
      sandbox_config: podConfig,
      config: { metadata: { name }, image: { image }, log_path: `${name}.log`, ...extra },
    });
    await c().call('StartContainer', { container_id });
    return container_id as string;
  };
  const code = (e: unknown) => (e as { code?: number }).code;

  before(async function () {
    if (process.getuid?.() !== 0 || !cniPluginsPresent()) this.skip();
    if (variant.userns) skipWithoutIdmappedTmpfs(this);
    reg = await startRegistry();
    fx = await pushFixtures(reg, { names: ['busybox', 'web'] });
    nori = await startNori({ extraArgs: args });
    logDir = mkdtempSync('/tmp/nori-strm-logs-');
    const used = (await sh('ip', ['-4', 'addr'])) + (await sh('ip', ['-4', 'route']));
    let subnet: string;
    do subnet = `10.234.${1 + Math.floor(Math.random() * 254)}.`;
    while (used.includes(subnet));
    writeFileSync(
      join(nori.cniConfDir, '10-strm.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: `nori-strm-${suffix}`,
        plugins: [{ type: 'bridge', bridge, isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: `${subnet}0/24` }]], dataDir: join(nori.dir, 'ipam') } }],
      }),
    );
    for (const f of ['busybox', 'web'] as const) await c().call('PullImage', { image: { image: fx.get(f).reference } });
    const linux = variant.userns ? { security_context: { namespace_options: { userns_options: variant.userns } } } : {};
    // The pod's root reaches its rootfs by path: the daemon's temp dir must be searchable.
    if (variant.userns) chmodSync(nori.dir, 0o711);
    podConfig = { metadata: { name: 'sp', namespace: 'ns', uid: `strm-${suffix}`, attempt: 0 }, log_directory: logDir, linux };
    pod = (await c().call('RunPodSandbox', { config: podConfig })).pod_sandbox_id;
    assert.match((await c().call('PodSandboxStatus', { pod_sandbox_id: pod })).status.network.ip, new RegExp(`^${subnet.replace(/\./g, '\\.')}`));
  });

  after(async () => {
    if (nori) await removeAllPodsAndCleanup(nori);
    await reg?.stop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
    if (existsSync(`/sys/class/net/${bridge}`)) await succeeds('ip', ['link', 'del', bridge]);
  });

  it('exec without a tty: stdout, stderr and the exit code (v4 status)', async () => {
    const id = await container('sleeper', fx.get('busybox').reference, { command: ['sleep', '1000'] });
    const { url } = await c().call('Exec', { container_id: id, cmd: ['echo', 'hi'], stdout: true, stderr: true });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]+$/);
    let s = await openRemotecommandStreams(await SpdyClient.connect(url, [V4]), { stderr: true });
    assert.equal((await s.stdout!.finished()).toString(), 'hi\n');
    assert.deepEqual(await status(s.error), { metadata: {}, status: 'Success' });

    const r2 = await c().call('Exec', { container_id: id, cmd: ['sh', '-c', 'cat; echo oops >&2; exit 7'], stdin: true, stdout: true, stderr: true });
    s = await openRemotecommandStreams(await SpdyClient.connect(r2.url, [V4]), { stdin: true, stderr: true });
    s.stdin!.write('from stdin', true);
    assert.equal((await s.stdout!.finished()).toString(), 'from stdin');
    assert.equal((await s.stderr!.finished()).toString(), 'oops\n');
    const st = await status(s.error);
    assert.equal(st.reason, 'NonZeroExitCode');
    assert.deepEqual(st.details!.causes, [{ reason: 'ExitCode', message: '7' }]);

    // The process runs as the container's: its environment, not runc's defaults.
    const r3 = await c().call('Exec', { container_id: id, cmd: ['sh', '-c', 'echo $HOSTNAME; cat /proc/self/uid_map'], stdout: true });
    s = await openRemotecommandStreams(await SpdyClient.connect(r3.url, [V4]), {});
    const out = (await s.stdout!.finished()).toString().split('\n');
    assert.equal(out[0], 'sp');
    if (variant.userns) assert.deepEqual(out[1]!.trim().split(/\s+/), ['0', '2800000', '65536']);
  });

  it('exec with a tty: terminal, input, resize, exit code', async () => {
    const id = (await c().call('ListContainers', { filter: { label_selector: {} } })).containers.find((x: any) => x.metadata.name === 'sleeper').id;
    const { url } = await c().call('Exec', { container_id: id, cmd: ['sh'], tty: true, stdin: true, stdout: true });
    const s = await openRemotecommandStreams(await SpdyClient.connect(url, [V4]), { stdin: true, resize: true });
    s.resize!.write(JSON.stringify({ Width: 100, Height: 30 }));
    await new Promise((r) => setTimeout(r, 500));
    s.stdin!.write('tty; stty size; exit 3\n');
    const out = (await s.stdout!.finished()).toString();
    assert.match(out, /\/dev\/pts\/\d+\r\n/);
    assert.match(out, /30 100\r\n/);
    const st = await status(s.error);
    assert.deepEqual(st.details!.causes, [{ reason: 'ExitCode', message: '3' }]);
  });

  it('attach: the container reads our stdin and its output comes back; StdinOnce ends it', async () => {
    const id = await container('shell', fx.get('busybox').reference, { command: ['/bin/sh'], stdin: true, stdin_once: true });
    const { url } = await c().call('Attach', { container_id: id, stdin: true, stdout: true, stderr: true });
    const s = await openRemotecommandStreams(await SpdyClient.connect(url, [V4]), { stdin: true, stderr: true });
    s.stdin!.write('echo attached; echo to-err >&2\n');
    await until('attach output', () => s.stdout!.text() === 'attached\n' && s.stderr!.text() === 'to-err\n');
    s.stdin!.end();
    assert.equal((await status(s.error)).status, 'Success');
    await until('container exit', async () => (await c().call('ContainerStatus', { container_id: id })).status.state === 'CONTAINER_EXITED');
    await assert.rejects(c().call('Attach', { container_id: id, stdout: true }), (e) => code(e) === FAILED_PRECONDITION);
  });

  it('attach to a tty container: its terminal output, including lines ending in \\r', async () => {
    const id = await container('tshell', fx.get('busybox').reference, { command: ['/bin/sh'], stdin: true, tty: true });
    // Typed-ahead input would be flushed when the shell sets up line editing: wait for its prompt.
    await until('shell prompt', () => existsSync(join(logDir, 'tshell.log')) && readFileSync(join(logDir, 'tshell.log'), 'utf8').includes('/ # '));
    const { url } = await c().call('Attach', { container_id: id, tty: true, stdin: true, stdout: true });
    const cl = await SpdyClient.connect(url, [V4]);
    // With a tty, v4 clients also open the resize stream (the server waits for it).
    const s = await openRemotecommandStreams(cl, { stdin: true, resize: true });
    s.resize!.write(JSON.stringify({ Width: 80, Height: 24 }));
    s.stdin!.write('echo tty-$((6*7))\n');
    await until('tty attach output', () => s.stdout!.text().includes('tty-42\r\n')).catch((e) => {
      throw new Error(`${(e as Error).message}; got ${JSON.stringify(s.stdout!.text())}`);
    });
    // Detaching leaves the container running.
    cl.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await c().call('ContainerStatus', { container_id: id })).status.state, 'CONTAINER_RUNNING');
  });

  it('port-forward reaches the web server in the pod network namespace', async () => {
    await container('web', fx.get('web').reference);
    const { url } = await c().call('PortForward', { pod_sandbox_id: pod, port: [80] });
    const page = readFileSync(join(REPO, 'hack', 'images', 'index.html'), 'utf8');
    let got = '';
    await until('web server answers', async () => {
      const cl = await SpdyClient.connect((await c().call('PortForward', { pod_sandbox_id: pod, port: [80] })).url, ['portforward.k8s.io']);
      const error = await cl.open({ streamType: 'error', port: '80', requestID: '0' });
      const data = await cl.open({ streamType: 'data', port: '80', requestID: '0' });
      data.write('GET / HTTP/1.0\r\n\r\n', true);
      got = (await data.finished()).toString();
      await error.finished();
      cl.close();
      return got.startsWith('HTTP/1.');
    });
    assert.match(got, /^HTTP\/1\.[01] 200/);
    assert.ok(got.endsWith(page), got);
    assert.match(url, /\/portforward\//);
  });

  it('refuses what it cannot serve', async () => {
    await assert.rejects(c().call('Exec', { container_id: 'nope', cmd: ['true'], stdout: true }), (e) => code(e) === NOT_FOUND);
    await assert.rejects(c().call('PortForward', { pod_sandbox_id: 'nope' }), (e) => code(e) === NOT_FOUND);
    const id = (await c().call('ListContainers', {})).containers.find((x: any) => x.metadata.name === 'sleeper').id;
    await assert.rejects(c().call('Exec', { container_id: id, cmd: ['true'], tty: true, stdout: true, stderr: true }), (e) => code(e) === INVALID_ARGUMENT);
    await assert.rejects(c().call('Exec', { container_id: id, cmd: ['true'] }), (e) => code(e) === INVALID_ARGUMENT);
  });
});
