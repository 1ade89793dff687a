import { strict as assert } from 'node:assert';
import { silentLogger } from '../../../src/log';
import { StreamingServer } from '../../../src/streaming/server';
import { rawRequest, readBody } from '../../helpers/spdy-client';
import { WsClient } from '../../helpers/ws-client';
import { LocalExecTarget } from './fake-target';
import { waitFor } from './wait';

const exec = (cmd: string[], o: Partial<{ tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }> = {}) => ({
  containerId: 'c1',
  cmd,
  tty: o.tty ?? false,
  stdin: o.stdin ?? false,
  stdout: o.stdout ?? true,
  stderr: o.stderr ?? !o.tty,
});

describe('streaming: remotecommand over WebSocket', () => {
  let target: LocalExecTarget;
  let server: StreamingServer;

  beforeEach(async () => {
    target = new LocalExecTarget();
    server = new StreamingServer({ listen: '127.0.0.1:0', log: silentLogger(), target });
    await server.start();
  });
  afterEach(() => server.close());

  it('negotiates the first supported subprotocol the client offers', async () => {
    const c = await WsClient.connect(server.getExecUrl(exec(['true'])), ['v9.channel.k8s.io', 'v5.channel.k8s.io', 'v4.channel.k8s.io']);
    assert.equal(c.protocol, 'v5.channel.k8s.io');
    await c.closedPromise();
  });

  it('runs echo (v4, binary): an empty first stdout message, output, Success status, close', async () => {
    const c = await WsClient.connect(server.getExecUrl(exec(['echo', 'hi there'])), ['v4.channel.k8s.io']);
    await c.closedPromise();
    assert.equal(c.channel(1)[0].length, 0, 'the connection-established signal');
    assert.equal(c.text(1), 'hi there\n');
    assert.deepEqual(JSON.parse(c.text(3)), { metadata: {}, status: 'Success' });
    assert.equal(c.closeCode, 1000);
  });

  it('runs echo with tty', async () => {
    const c = await WsClient.connect(server.getExecUrl(exec(['sh', '-c', 'echo tty=$FAKE_TTY'], { tty: true })), ['v4.channel.k8s.io']);
    await c.closedPromise();
    assert.equal(c.text(1), 'tty=1\n');
    assert.equal(target.calls[0].opts.tty, true);
  });

  it('reports exit 7 in the v4 status (base64 protocol, text frames)', async () => {
    const c = await WsClient.connect(server.getExecUrl(exec(['sh', '-c', 'echo oops >&2; exit 7'])), ['v4.base64.channel.k8s.io']);
    await c.closedPromise();
    assert.ok(c.messages.some((m) => m.opcode === 1) && !c.messages.some((m) => m.opcode === 2), 'text frames only');
    assert.equal(c.text(2), 'oops\n');
    const status = JSON.parse(c.text(3));
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.deepEqual(status.details.causes, [{ reason: 'ExitCode', message: '7' }]);
  });

  it('sends a plain failure message for channel.k8s.io and nothing on success', async () => {
    const c = await WsClient.connect(server.getExecUrl(exec(['sh', '-c', 'exit 2'])), ['channel.k8s.io']);
    await c.closedPromise();
    assert.match(c.text(3), /non-zero exit code.*exit code 2/);
    const ok = await WsClient.connect(server.getExecUrl(exec(['true'])), ['base64.channel.k8s.io']);
    await ok.closedPromise();
    assert.equal(ok.text(3), '');
  });

  it('pipes stdin to cat and half-closes it with the v5 close signal', async () => {
    const c = await WsClient.connect(server.getExecUrl(exec(['cat'], { stdin: true })), ['v5.channel.k8s.io']);
    c.sendChannel(0, 'fragmented hello\n', { fragments: 3 });
    c.sendChannel(0, 'second\n');
    await c.waitFor(() => c.text(1) === 'fragmented hello\nsecond\n');
    c.frame(2, Buffer.from([255, 0])); // close channel 0
    await c.closedPromise();
    assert.equal(JSON.parse(c.text(3)).status, 'Success');
  });

  it('delivers resize messages and answers pings', async () => {
    const c = await WsClient.connect(server.getExecUrl(exec(['cat'], { stdin: true, tty: true })), ['v5.channel.k8s.io']);
    c.ping(Buffer.from('p1'));
    c.sendChannel(4, '{"Width":132,"Height":43}');
    await waitFor(() => target.calls[0]?.resizes.length === 1);
    assert.deepEqual(target.calls[0].resizes, [[132, 43]]);
    await c.waitFor(() => c.pongs.some((p) => p.toString() === 'p1'));
    c.frame(2, Buffer.from([255, 0]));
    await c.closedPromise();
  });

  it('kills the process when the client closes', async () => {
    const c = await WsClient.connect(server.getExecUrl(exec(['sleep', '60'])), ['v4.channel.k8s.io']);
    await waitFor(() => target.calls.length === 1);
    c.close();
    await waitFor(() => target.calls[0].killed);
  });

  it('refuses an unsupported subprotocol, a reused token and a broken handshake', async () => {
    await assert.rejects(WsClient.connect(server.getExecUrl(exec(['true'])), ['v9.channel.k8s.io']), (e: Error & { status?: number }) => e.status === 400);
    const url = server.getExecUrl(exec(['true']));
    const c = await WsClient.connect(url, ['v4.channel.k8s.io']);
    await c.closedPromise();
    await assert.rejects(WsClient.connect(url, ['v4.channel.k8s.io']), (e: Error & { status?: number }) => e.status === 404);
    const r = await rawRequest(server.getExecUrl(exec(['true'])), 'GET', [['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Version', '13']]);
    assert.equal(r.status, 400);
    await readBody(r);
    assert.equal(target.calls.length, 1);
  });
});
