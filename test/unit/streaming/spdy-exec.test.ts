import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { silentLogger } from '../../../src/log';
import { StreamingServer } from '../../../src/streaming/server';
import { SPDY_DICTIONARY } from '../../../src/streaming/spdy/dictionary';
import { SpdyClient, rawRequest, readBody, openRemotecommandStreams } from '../../helpers/spdy-client';
import { LocalExecTarget } from './fake-target';
import { waitFor } from './wait';

const V4 = 'v4.channel.k8s.io';

describe('streaming: remotecommand over SPDY/3.1', () => {
  let target: LocalExecTarget;
  let server: StreamingServer;

  beforeEach(async () => {
    target = new LocalExecTarget();
    server = new StreamingServer({ listen: '127.0.0.1:0', log: silentLogger(), target });
    await server.start();
  });
  afterEach(async () => {
    await server.close();
  });

  it('uses the SPDY/3 dictionary byte for byte', () => {
    assert.equal(SPDY_DICTIONARY.length, 1423);
    assert.equal(createHash('sha256').update(SPDY_DICTIONARY).digest('hex'), '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02');
  });

  it('issues URLs with random single-use tokens on the exec/attach/portforward routes', () => {
    const a = server.getExecUrl({ containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
    const b = server.getAttachUrl({ containerId: 'c', tty: false, stdin: false, stdout: true, stderr: false });
    const p = server.getPortForwardUrl({ podSandboxId: 's', port: [80] });
    assert.match(a, new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/exec/[A-Za-z0-9_-]{16,}$`));
    assert.match(b, /\/attach\/[A-Za-z0-9_-]{16,}$/);
    assert.match(p, /\/portforward\/[A-Za-z0-9_-]{16,}$/);
    assert.notEqual(a.split('/').pop(), server.getExecUrl({ containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false }).split('/').pop());
  });

  it('runs echo (non-tty) and reports v4 Success', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['echo', 'hello world'], tty: false, stdin: false, stdout: true, stderr: true });
    const c = await SpdyClient.connect(url, [V4, 'v3.channel.k8s.io']);
    assert.equal(c.protocol, V4);
    const s = await openRemotecommandStreams(c, { stdout: true, stderr: true });
    assert.equal((await s.stdout!.finished()).toString(), 'hello world\n');
    assert.equal((await s.stderr!.finished()).toString(), '');
    assert.deepEqual(JSON.parse((await s.error.finished()).toString()), { metadata: {}, status: 'Success' });
    await c.closedPromise();
    assert.ok(c.goAway, 'server sends GOAWAY before closing');
    assert.deepEqual(target.calls[0].cmd, ['echo', 'hello world']);
    assert.equal(target.calls[0].containerId, 'c1');
  });

  it('runs echo with tty: output on stdout, the tty flag reaches the target', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['sh', '-c', 'echo out; echo err >&2; echo tty=$FAKE_TTY'], tty: true, stdin: false, stdout: true, stderr: false });
    const c = await SpdyClient.connect(url, [V4]);
    const s = await openRemotecommandStreams(c, { stdout: true, resize: true });
    const out = (await s.stdout!.finished()).toString();
    assert.match(out, /out\n/);
    assert.match(out, /err\n/);
    assert.match(out, /tty=1/);
    assert.equal(target.calls[0].opts.tty, true);
    assert.equal(JSON.parse((await s.error.finished()).toString()).status, 'Success');
  });

  it('echoes stdin through cat and ends it on the client half-close', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['cat'], tty: false, stdin: true, stdout: true, stderr: true });
    const c = await SpdyClient.connect(url, [V4]);
    const s = await openRemotecommandStreams(c, { stdin: true, stdout: true, stderr: true });
    s.stdin!.write('line one\n');
    s.stdin!.write('line two\n', true); // DATA with FLAG_FIN: stdin half-close
    assert.equal((await s.stdout!.finished()).toString(), 'line one\nline two\n');
    assert.equal(JSON.parse((await s.error.finished()).toString()).status, 'Success');
  });

  it("reports sh -c 'exit 7' as NonZeroExitCode with cause ExitCode 7 (v4)", async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['sh', '-c', 'exit 7'], tty: false, stdin: false, stdout: true, stderr: true });
    const c = await SpdyClient.connect(url, [V4]);
    const s = await openRemotecommandStreams(c, { stdout: true, stderr: true });
    const status = JSON.parse((await s.error.finished()).toString());
    assert.equal(status.status, 'Failure');
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.deepEqual(status.details.causes, [{ reason: 'ExitCode', message: '7' }]);
  });

  it('writes a failure as plain text on the error stream for v2/v3', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['sh', '-c', 'exit 3'], tty: false, stdin: false, stdout: true, stderr: false });
    const c = await SpdyClient.connect(url, ['v2.channel.k8s.io']);
    assert.equal(c.protocol, 'v2.channel.k8s.io');
    const s = await openRemotecommandStreams(c, { stdout: true });
    assert.match((await s.error.finished()).toString(), /^command terminated with non-zero exit code: .*exit code 3$/);
  });

  it('delivers resize events to the process (v3+)', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['cat'], tty: true, stdin: true, stdout: true, stderr: false });
    const c = await SpdyClient.connect(url, ['v3.channel.k8s.io']);
    const s = await openRemotecommandStreams(c, { stdin: true, stdout: true, resize: true });
    s.resize!.write('{"Width":100,"Height":40}\n{"Width":120');
    s.resize!.write(',"Height":50}');
    await waitFor(() => target.calls[0]?.resizes.length === 2);
    assert.deepEqual(target.calls[0].resizes, [
      [100, 40],
      [120, 50],
    ]);
    s.stdin!.end();
    await s.error.finished();
  });

  it('kills the process when the client goes away', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['sleep', '60'], tty: false, stdin: false, stdout: true, stderr: false });
    const c = await SpdyClient.connect(url, [V4]);
    await openRemotecommandStreams(c, { stdout: true });
    await waitFor(() => target.calls.length === 1);
    c.close();
    await waitFor(() => target.calls[0].killed);
  });

  it('honours SPDY/3.1 flow-control windows when the client uses them', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['head', '-c', '300000', '/dev/zero'], tty: false, stdin: false, stdout: true, stderr: false });
    const c = await SpdyClient.connect(url, [V4], { windowSize: 4096 });
    const s = await openRemotecommandStreams(c, { stdout: true });
    assert.equal((await s.stdout!.finished()).length, 300000);
    assert.ok(s.stdout!.maxFrame <= 4096, `frame of ${s.stdout!.maxFrame} bytes exceeds the window`);
  });

  it('answers client pings', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['sleep', '1'], tty: false, stdin: false, stdout: true, stderr: false });
    const c = await SpdyClient.connect(url, [V4]);
    c.ping(7);
    await waitFor(() => c.pings.includes(7));
    c.close();
  });

  it('rejects a reused token with 404', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
    const c = await SpdyClient.connect(url, [V4]);
    const s = await openRemotecommandStreams(c, { stdout: true });
    await s.error.finished();
    await assert.rejects(SpdyClient.connect(url, [V4]), (e: Error & { status?: number }) => e.status === 404);
  });

  it('rejects an expired token with 404', async () => {
    const short = new StreamingServer({ listen: '127.0.0.1:0', log: silentLogger(), target, tokenTtlMs: 50 });
    await short.start();
    try {
      const url = short.getExecUrl({ containerId: 'c1', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
      await new Promise((r) => setTimeout(r, 120));
      await assert.rejects(SpdyClient.connect(url, [V4]), (e: Error & { status?: number }) => e.status === 404);
    } finally {
      await short.close();
    }
  });

  it('rejects an unknown token or a token on the wrong route with 404', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
    await assert.rejects(SpdyClient.connect(url.replace('/exec/', '/attach/'), [V4]), (e: Error & { status?: number }) => e.status === 404);
    await assert.rejects(SpdyClient.connect(`${server.baseUrl}/exec/AAAAAAAAAAAAAAAAAAAAAA`, [V4]), (e: Error & { status?: number }) => e.status === 404);
  });

  it('answers a request without upgrade headers with 400', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
    const r = await rawRequest(url, 'POST', [['X-Stream-Protocol-Version', V4], ['Content-Length', '0'], ['Connection', 'close']]);
    assert.equal(r.status, 400);
    assert.match(await readBody(r), /upgrade/);
    assert.equal(target.calls.length, 0);
  });

  it('answers an upgrade to something other than SPDY/3.1 with 400', async () => {
    const url = server.getExecUrl({ containerId: 'c1', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
    const r = await rawRequest(url, 'POST', [['Connection', 'Upgrade'], ['Upgrade', 'h2c'], ['X-Stream-Protocol-Version', V4]]);
    assert.equal(r.status, 400);
  });

  it('answers an upgrade without X-Stream-Protocol-Version with 400 and an unknown version with 403', async () => {
    const u1 = server.getExecUrl({ containerId: 'c1', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
    await assert.rejects(SpdyClient.connect(u1, []), (e: Error & { status?: number }) => e.status === 400);
    const u2 = server.getExecUrl({ containerId: 'c1', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
    const r = await rawRequest(u2, 'POST', [['Connection', 'Upgrade'], ['Upgrade', 'SPDY/3.1'], ['X-Stream-Protocol-Version', 'v9.channel.k8s.io']]);
    assert.equal(r.status, 403);
    assert.ok((r.headers['x-accepted-stream-protocol-versions'] ?? []).includes(V4));
    r.socket.destroy();
  });

  it('serves attach with Success whatever the exit code', async () => {
    target.attachCmd = ['sh', '-c', 'echo attached; read x; echo got $x; exit 4'];
    const url = server.getAttachUrl({ containerId: 'c2', tty: false, stdin: true, stdout: true, stderr: true });
    const c = await SpdyClient.connect(url, [V4]);
    const s = await openRemotecommandStreams(c, { stdin: true, stdout: true, stderr: true });
    s.stdin!.write('ping\n');
    assert.equal((await s.stdout!.finished()).toString(), 'attached\ngot ping\n');
    assert.deepEqual(JSON.parse((await s.error.finished()).toString()), { metadata: {}, status: 'Success' });
  });
});
