// Security defaults of a real bin/nori: the CRI socket and dirs are not world-accessible, the
// metrics and streaming servers default to and bind on loopback, streaming URLs carry long
// random single-use tokens, and registry credentials never reach the log or /metrics.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { NORI_BIN, startNori, type NoriProcess } from '../../helpers/daemon';
import { startRegistry, type TestRegistry } from '../../helpers/registry';
import { canRun, privateNori, type PrivateNori } from './private_nori';

/** Local addresses of the TCP sockets `pid` listens on (ss -ltnp). */
function listeningAddresses(pid: number): string[] {
  const out = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes(`pid=${pid},`))
    .map((l) => l.trim().split(/\s+/)[3]!);
}

describe('security defaults (real daemon)', function () {
  this.timeout(180_000);
  let env: PrivateNori;

  before(async function () {
    if (!canRun()) this.skip();
    env = await privateNori();
  });
  after(async () => env?.cleanup());

  it('the socket is 0660 or stricter; root, state and the socket dir are not world-accessible', () => {
    const n = env.nori;
    assert.equal(statSync(n.socket).mode & 0o007, 0, 'socket has no "other" bits');
    assert.equal(statSync(n.socket).mode & 0o110, 0, 'socket is not executable');
    for (const d of [n.root, n.state, dirname(n.socket)]) assert.equal(statSync(d).mode & 0o007, 0, `${d} is ${(statSync(d).mode & 0o777).toString(8)}`);
  });

  it('metrics and streaming default to loopback, and the daemon listens on loopback only', async () => {
    const printed = execFileSync(process.execPath, [NORI_BIN, 'config'], { encoding: 'utf8' });
    assert.match(printed, /metrics[-_]?listen\W+127\.0\.0\.1:9090/i, printed);
    assert.match(printed, /streaming[-_]?listen\W+127\.0\.0\.1:0/i, printed);
    // this daemon runs both servers on 127.0.0.1:0: whatever it listens on is loopback
    const addrs = listeningAddresses(env.nori.proc.pid!);
    assert.ok(addrs.length >= 2, `metrics and streaming listeners: ${addrs.join(', ')}`);
    for (const a of addrs) assert.match(a, /^127\.0\.0\.1:\d+$/, `listens on ${a}`);
  });

  it('streaming URLs carry 128-bit random tokens that work once, on their own route only', async () => {
    const c = env.nori.client;
    const config = env.podConfig('sec', { linux: { security_context: { namespace_options: { network: 'NODE' } } } });
    const pod = (await c.call('RunPodSandbox', { config })).pod_sandbox_id;
    const ctr = (await c.call('CreateContainer', { pod_sandbox_id: pod, sandbox_config: config, config: { metadata: { name: 's' }, image: { image: env.busybox }, command: ['sleep', '600'] } }))
      .container_id;
    await c.call('StartContainer', { container_id: ctr });
    const urls = await Promise.all(Array.from({ length: 20 }, () => c.call('Exec', { container_id: ctr, cmd: ['true'], stdout: true }).then((r) => r.url as string)));
    const tokens = urls.map((u) => new URL(u).pathname.split('/').pop()!);
    assert.equal(new Set(tokens).size, tokens.length, 'every token differs');
    for (const t of tokens) {
      assert.match(t, /^[A-Za-z0-9_-]{22,}$/, t);
      assert.ok(Buffer.from(t, 'base64url').length >= 16, `${t}: at least 128 bits`);
    }
    for (const u of urls) assert.equal(new URL(u).hostname, '127.0.0.1');
    // first use spends it (a plain GET is refused for lacking the upgrade, but the token is gone)
    assert.equal((await fetch(urls[0]!)).status, 400);
    assert.equal((await fetch(urls[0]!)).status, 404, 'second use');
    // a token on another route is refused and spent too
    const attachRoute = urls[1]!.replace('/exec/', '/attach/');
    assert.equal((await fetch(attachRoute)).status, 404);
    assert.equal((await fetch(urls[1]!)).status, 404, 'spent by the wrong-route attempt');
    // a guessed token
    assert.equal((await fetch(urls[2]!.replace(/[^/]+$/, 'A'.repeat(22)))).status, 404);
    // the others are still good
    assert.equal((await fetch(urls[3]!)).status, 400);
  });
});

describe('registry credentials stay out of logs and metrics (real daemon)', function () {
  this.timeout(180_000);
  let reg: TestRegistry;
  let nori: NoriProcess;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    reg = await startRegistry({ auth: 'basic' });
    await reg.push('busybox', 'nori-test/secret:1');
    nori = await startNori({ extraArgs: ['--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json'] });
  });
  after(async () => {
    await nori?.cleanup();
    await reg?.stop();
  });

  it('neither a good nor a wrong password, nor the auth string, appears in the debug log or /metrics', async () => {
    const { username, password } = reg.credentials!;
    const ref = reg.ref('nori-test/secret:1');
    const wrong = `wrong-${password}-x`;
    await assert.rejects(nori.client.call('PullImage', { image: { image: ref }, auth: { username, password: wrong } }));
    await assert.rejects(nori.client.call('PullImage', { image: { image: ref }, auth: { auth: Buffer.from(`${username}:${wrong}`).toString('base64') } }));
    await nori.client.call('PullImage', { image: { image: ref }, auth: { username, password } });
    await nori.client.call('RemoveImage', { image: { image: ref } });
    const auth = Buffer.from(`${username}:${password}`).toString('base64');
    await nori.client.call('PullImage', { image: { image: ref }, auth: { auth, identity_token: 'idtok-secret-1', registry_token: 'regtok-secret-2' } });
    const metrics = await (await fetch(`http://127.0.0.1:${nori.metricsPort}/metrics`)).text();
    const log = JSON.stringify(nori.logs);
    assert.ok(log.includes('PullImage'), 'the log has the pulls (debug level)');
    const secrets = [password, wrong, auth, Buffer.from(`${username}:${wrong}`).toString('base64'), 'idtok-secret-1', 'regtok-secret-2'];
    for (const s of secrets) {
      assert.ok(!log.includes(s), `log contains ${s}`);
      assert.ok(!metrics.includes(s), `metrics contain ${s}`);
    }
  });
});
