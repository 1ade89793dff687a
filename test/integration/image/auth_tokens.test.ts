// Bearer auth beyond username/password: the CRI AuthConfig's identity_token (an OAuth2
// refresh token) and registry_token (a ready bearer token), and token caching across pulls.

import { strict as assert } from 'node:assert';
import { startNori, type NoriProcess } from '../../helpers/daemon';
import { loadFixtures, startRegistry, type TestRegistry } from '../../helpers/registry';

describe('image service: bearer tokens (integration)', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let nori: NoriProcess;
  let ref: string;
  const repo = 'nori-test/tokens';
  const imageId = () => loadFixtures().get('busybox').imageId;

  before(async () => {
    reg = await startRegistry({ auth: 'token' });
    await reg.push('busybox', `${repo}:1`);
    ref = reg.ref(`${repo}:1`);
  });
  beforeEach(async () => {
    // a fresh daemon each time: no token cached from an earlier test
    nori = await startNori({ extraArgs: ['--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json'] });
  });
  afterEach(async () => {
    await nori?.cleanup();
  });
  after(async () => {
    await reg?.stop();
  });

  const pull = (auth: object) => nori.client.call('PullImage', { image: { image: ref }, auth });
  const tokenRequests = () => reg.tokenServer!.requests.length;

  it('pulls with identity_token through the OAuth2 refresh-token grant, never logging it', async () => {
    const ts = reg.tokenServer!;
    const { username, password } = reg.credentials!;
    const form = new URLSearchParams({ grant_type: 'password', username, password, service: ts.service, scope: `repository:${repo}:pull`, access_type: 'offline', client_id: 'test' });
    const got = (await (await fetch(ts.realm, { method: 'POST', body: form })).json()) as { refresh_token?: string };
    assert.ok(got.refresh_token, 'the token server issued a refresh token');
    const before = ts.requests.length;
    const r = await pull({ identity_token: got.refresh_token });
    assert.equal(r.image_ref, imageId());
    const used = ts.requests.slice(before);
    assert.ok(used.some((q) => q.method === 'POST' && q.grantType === 'refresh_token' && q.status === 200 && q.user === username), JSON.stringify(used));
    assert.ok(!JSON.stringify(nori.logs).includes(got.refresh_token));
  });

  it('refuses a wrong identity_token', async () => {
    await assert.rejects(pull({ identity_token: 'not-a-refresh-token' }), (e: any) => e.code === 9 && /refused/.test(e.details));
  });

  it('pulls with registry_token without asking the token server', async () => {
    const token = reg.tokenServer!.sign({ sub: reg.credentials!.username, access: [{ type: 'repository', name: repo, actions: ['pull'] }] });
    const before = tokenRequests();
    const r = await pull({ registry_token: token });
    assert.equal(r.image_ref, imageId());
    assert.equal(tokenRequests(), before, 'no token request');
    assert.ok(!JSON.stringify(nori.logs).includes(token));
  });

  it('caches the bearer token until it expires: a second pull asks the token server nothing', async () => {
    const { username, password } = reg.credentials!;
    const before = tokenRequests();
    await pull({ username, password });
    const afterFirst = tokenRequests();
    assert.equal(afterFirst - before, 1, 'one token for the first pull (manifest, config and layer share it)');
    await nori.client.call('RemoveImage', { image: { image: ref } });
    const r = await pull({ username, password });
    assert.equal(r.image_ref, imageId());
    assert.equal(tokenRequests(), afterFirst, 'the cached token was used');
  });
});

describe('image service: bearer token expiry (integration)', function () {
  this.timeout(120_000);
  let reg: TestRegistry;
  let nori: NoriProcess;
  before(async () => {
    // 11 s tokens: nori keeps a token until 10 s before expiry, so it is good for ~1 s
    reg = await startRegistry({ auth: 'token', token: { expiresInSeconds: 11 } });
    await reg.push('busybox', 'nori-test/expiring:1');
    nori = await startNori({ extraArgs: ['--registries-conf', '/nonexistent/registries.conf', '--auth-file', '/nonexistent/auth.json'] });
  });
  after(async () => {
    await nori?.cleanup();
    await reg?.stop();
  });

  it('asks for a new token once the cached one is about to expire', async () => {
    const ref = reg.ref('nori-test/expiring:1');
    const auth = reg.credentials!;
    const before = reg.tokenServer!.requests.length;
    await nori.client.call('PullImage', { image: { image: ref }, auth });
    const afterFirst = reg.tokenServer!.requests.length;
    assert.equal(afterFirst - before, 1);
    await nori.client.call('RemoveImage', { image: { image: ref } });
    await new Promise((r) => setTimeout(r, 1500));
    await nori.client.call('PullImage', { image: { image: ref }, auth });
    assert.ok(reg.tokenServer!.requests.length > afterFirst, 'a fresh token was requested');
  });
});
