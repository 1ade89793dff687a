// Port-forward against a real network namespace: a web server and an upper-casing echo server run
// inside a netns this test creates; nori's server connects through the native addon.

import { strict as assert } from 'node:assert';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/log';
import { StreamingServer } from '../../../src/streaming/server';
import { SpdyClient } from '../../helpers/spdy-client';
import { WsClient } from '../../helpers/ws-client';
import { LocalExecTarget } from '../../unit/streaming/fake-target';

const PAGE = '<html>nori port-forward fixture</html>';
const WEB_PORT = 8080;
const ECHO_PORT = 9090;

const SERVERS = `
const http = require('http'), net = require('net');
http.createServer((req, res) => res.end(${JSON.stringify(PAGE)})).listen(${WEB_PORT}, '127.0.0.1', ready);
// Replies only after the client's FIN, then ends: proves half-close in both directions.
net.createServer({ allowHalfOpen: true }, (s) => {
  const parts = [];
  s.on('data', (d) => parts.push(d));
  s.on('end', () => s.end(Buffer.concat(parts).toString().toUpperCase()));
}).listen(${ECHO_PORT}, '127.0.0.1', ready);
let n = 0;
function ready() { if (++n === 2) console.log('ready'); }
`;

describe('streaming: port-forward into a pod network namespace', function () {
  this.timeout(30_000);
  const ns = `nori-st-${randomBytes(4).toString('hex')}`;
  let dir: string;
  let servers: ChildProcess;
  let hostServer: http.Server;
  let hostPort: number;
  let target: LocalExecTarget;
  let server: StreamingServer;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'nori-st-'));
    writeFileSync(join(dir, 'servers.js'), SERVERS);
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    servers = spawn('ip', ['netns', 'exec', ns, process.execPath, join(dir, 'servers.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      servers.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      servers.once('exit', (c) => reject(new Error(`fixture servers exited ${c}`)));
    });
    hostServer = http.createServer((_q, r) => r.end('host network page'));
    await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', r));
    hostPort = (hostServer.address() as AddressInfo).port;
    target = new LocalExecTarget();
    target.netns = { pod1: `/var/run/netns/${ns}`, hostpod: null };
    server = new StreamingServer({ listen: '127.0.0.1:0', log: silentLogger(), target });
    await server.start();
  });

  after(async () => {
    await server?.close();
    hostServer?.close();
    if (servers && servers.exitCode === null) {
      servers.kill('SIGKILL');
      await new Promise((r) => servers.once('exit', r));
    }
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      // never created
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function forwardSpdy(c: SpdyClient, port: number, requestID: string, send: string) {
    const error = await c.open({ streamType: 'error', port: String(port), requestID });
    const data = await c.open({ streamType: 'data', port: String(port), requestID });
    data.write(send, true);
    return { data: (await data.finished()).toString(), error: (await error.finished()).toString() };
  }

  it('SPDY: returns the web server page from inside the netns', async () => {
    const c = await SpdyClient.connect(server.getPortForwardUrl({ podSandboxId: 'pod1', port: [WEB_PORT] }), ['portforward.k8s.io']);
    assert.equal(c.protocol, 'portforward.k8s.io');
    const r = await forwardSpdy(c, WEB_PORT, '0', 'GET / HTTP/1.0\r\n\r\n');
    assert.match(r.data, /^HTTP\/1\.1 200 OK/);
    assert.ok(r.data.endsWith(PAGE), r.data);
    assert.equal(r.error, '');
    c.close();
  });

  it('SPDY: honours half-close both ways, and serves several connections on one session', async () => {
    const c = await SpdyClient.connect(server.getPortForwardUrl({ podSandboxId: 'pod1', port: [ECHO_PORT] }), ['portforward.k8s.io']);
    const [a, b] = await Promise.all([forwardSpdy(c, ECHO_PORT, '1', 'first'), forwardSpdy(c, ECHO_PORT, '2', 'second')]);
    assert.equal(a.data, 'FIRST');
    assert.equal(b.data, 'SECOND');
    c.close();
  });

  it('SPDY: reports a refused connection on the error stream', async () => {
    const c = await SpdyClient.connect(server.getPortForwardUrl({ podSandboxId: 'pod1', port: [1] }), ['portforward.k8s.io']);
    const r = await forwardSpdy(c, 1, '0', 'x');
    assert.equal(r.data, '');
    assert.match(r.error, /error forwarding port 1 to pod pod1/);
    c.close();
  });

  it('SPDY: pairs streams by id for clients that send no requestID', async () => {
    const c = await SpdyClient.connect(server.getPortForwardUrl({ podSandboxId: 'pod1', port: [WEB_PORT] }), ['portforward.k8s.io']);
    const error = await c.open({ streamType: 'error', port: String(WEB_PORT) });
    const data = await c.open({ streamType: 'data', port: String(WEB_PORT) });
    data.write('GET / HTTP/1.0\r\n\r\n', true);
    assert.ok((await data.finished()).toString().endsWith(PAGE));
    assert.equal((await error.finished()).toString(), '');
    c.close();
  });

  it('SPDY: host-network pods connect on the host', async () => {
    const c = await SpdyClient.connect(server.getPortForwardUrl({ podSandboxId: 'hostpod', port: [hostPort] }), ['portforward.k8s.io']);
    const r = await forwardSpdy(c, hostPort, '0', 'GET / HTTP/1.0\r\n\r\n');
    assert.ok(r.data.endsWith('host network page'), r.data);
    c.close();
  });

  it('WebSocket v4.portforward.k8s.io: port prefix on both channels, then the page', async () => {
    const url = server.getPortForwardUrl({ podSandboxId: 'pod1', port: [] }) + `?ports=${WEB_PORT}`;
    const c = await WsClient.connect(url, ['v4.portforward.k8s.io']);
    assert.equal(c.protocol, 'v4.portforward.k8s.io');
    await c.waitFor(() => c.channel(1).length > 0);
    const portLE = Buffer.from([WEB_PORT & 0xff, WEB_PORT >> 8]);
    assert.deepEqual(c.channel(0)[0], portLE);
    assert.deepEqual(c.channel(1)[0], portLE);
    c.sendChannel(0, 'GET / HTTP/1.0\r\n\r\n');
    await c.closedPromise();
    const body = Buffer.concat(c.channel(0).slice(1)).toString();
    assert.match(body, /^HTTP\/1\.1 200 OK/);
    assert.ok(body.endsWith(PAGE), body);
  });

  it('WebSocket: uses the ports of the CRI request when the query names none', async () => {
    const c = await WsClient.connect(server.getPortForwardUrl({ podSandboxId: 'pod1', port: [WEB_PORT] }), ['v4.base64.portforward.k8s.io']);
    await c.waitFor(() => c.channel(0).length > 0);
    c.sendChannel(0, 'GET / HTTP/1.0\r\n\r\n');
    await c.closedPromise();
    assert.ok(Buffer.concat(c.channel(0).slice(1)).toString().endsWith(PAGE));
  });
});
