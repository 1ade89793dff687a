import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { silentLogger } from '../../../src/log';
import { StreamingServer } from '../../../src/streaming/server';
import { LocalExecTarget } from './fake-target';

describe('streaming: TLS', () => {
  let dir: string;
  let server: StreamingServer;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'nori-st-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    } catch {
      this.skip();
    }
    server = new StreamingServer({
      listen: '127.0.0.1:0',
      log: silentLogger(),
      target: new LocalExecTarget(),
      tls: { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) },
    });
    await server.start();
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves https URLs; a plain request with a valid token gets 400, an unknown one 404', async () => {
    const url = server.getExecUrl({ containerId: 'c', cmd: ['true'], tty: false, stdin: false, stdout: true, stderr: false });
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/exec\//);
    const get = (u: string) =>
      new Promise<number>((resolve, reject) => {
        https.get(u, { ca: readFileSync(join(dir, 'cert.pem')), checkServerIdentity: () => undefined }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).once('error', reject);
      });
    assert.equal(await get(url), 400);
    assert.equal(await get(url), 404);
  });

  it('upgrades to SPDY over TLS', async () => {
    const url = new URL(server.getExecUrl({ containerId: 'c', cmd: ['echo', 'x'], tty: false, stdin: false, stdout: true, stderr: false }));
    const sock = tls.connect({ host: '127.0.0.1', port: Number(url.port), rejectUnauthorized: false });
    const head = await new Promise<string>((resolve, reject) => {
      sock.once('secureConnect', () =>
        sock.write(`POST ${url.pathname} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`),
      );
      sock.once('data', (d: Buffer) => resolve(d.toString('latin1')));
      sock.once('error', reject);
    });
    sock.destroy();
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /X-Stream-Protocol-Version: v4\.channel\.k8s\.io/i);
  });
});
