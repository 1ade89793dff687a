import { strict as assert } from 'node:assert';
import { endpointsFor, parseRegistriesConf } from '../../../src/image/registries_conf';
import { parseReference } from '../../../src/image/reference';
import { fromAuthFile, fromCriAuth } from '../../../src/image/credentials';
import { choosePlatform } from '../../../src/image/manifest';
import { chainIds } from '../../../src/image/layer_store';
import { parseWwwAuthenticate } from '../../../src/image/token_cache';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CONF = `
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "127.0.0.1:5000"
insecure = true
[[registry.mirror]]
location = "mirror.example.com/hub"

[[registry]]
prefix = "registry.k8s.io/sub"
location = "other.example.com/k8s"

[[registry]]
location = "blocked.example.com"
blocked = true
`;

describe('registries.conf', () => {
  const conf = parseRegistriesConf(CONF);
  it('parses registries, mirrors and search registries', () => {
    assert.deepEqual(conf.unqualifiedSearchRegistries, ['docker.io']);
    assert.equal(conf.registries.length, 3);
    assert.deepEqual(conf.registries[0]!.mirrors, [
      { location: '127.0.0.1:5000', insecure: true },
      { location: 'mirror.example.com/hub', insecure: false },
    ]);
  });
  it('tries mirrors in order, then the registry, keeping the repository path', () => {
    const eps = endpointsFor(conf, parseReference('busybox'));
    assert.deepEqual(eps, [
      { host: '127.0.0.1:5000', repository: 'library/busybox', insecure: true, mirror: true },
      { host: 'mirror.example.com', repository: 'hub/library/busybox', insecure: false, mirror: true },
      { host: 'registry-1.docker.io', repository: 'library/busybox', insecure: false, mirror: false },
    ]);
  });
  it('rewrites a prefix to its location and prefers the longest prefix', () => {
    assert.deepEqual(endpointsFor(conf, parseReference('registry.k8s.io/sub/pause:3.9')), [
      { host: 'other.example.com', repository: 'k8s/pause', insecure: false, mirror: false },
    ]);
    assert.deepEqual(endpointsFor(conf, parseReference('registry.k8s.io/pause:3.9')), [
      { host: 'registry.k8s.io', repository: 'pause', insecure: false, mirror: false },
    ]);
  });
  it('refuses blocked registries', () => {
    assert.throws(() => endpointsFor(conf, parseReference('blocked.example.com/x')), /blocked/);
  });
  it('treats loopback registries without an entry as insecure', () => {
    assert.equal(endpointsFor(conf, parseReference('127.0.0.1:9999/x'))[0]!.insecure, true);
  });
  it('reports a broken file', () => {
    assert.throws(() => parseRegistriesConf('[[registry]\n'), (e: Error) => e.name === 'InvalidArgumentError');
    assert.throws(() => parseRegistriesConf('[[registry]]\ninsecure = "yes"\nlocation="x"'), /boolean/);
  });
});

describe('registry credentials and protocol helpers', () => {
  it('decodes CRI AuthConfig auth and prefers explicit fields', () => {
    assert.deepEqual(fromCriAuth({ auth: Buffer.from('u:p:w').toString('base64') }), { username: 'u', password: 'p:w' });
    assert.deepEqual(fromCriAuth({ username: 'a', password: 'b' }), { username: 'a', password: 'b' });
    assert.deepEqual(fromCriAuth({ registryToken: 't' }), { registryToken: 't' });
    assert.equal(fromCriAuth({}), undefined);
  });
  it('looks the auth file up by host/repo, most specific first', () => {
    const f = join(fs.mkdtempSync(join(tmpdir(), 'nori-auth-')), 'auth.json');
    const b = (s: string) => Buffer.from(s).toString('base64');
    fs.writeFileSync(f, JSON.stringify({ auths: { 'r.io': { auth: b('host:1') }, 'r.io/team': { auth: b('team:2') }, 'https://index.docker.io/v1/': { auth: b('hub:3') } } }));
    assert.equal(fromAuthFile(f, 'r.io', 'team/app')?.username, 'team');
    assert.equal(fromAuthFile(f, 'r.io', 'other/app')?.username, 'host');
    assert.equal(fromAuthFile(f, 'registry-1.docker.io', 'library/busybox')?.username, 'hub');
    assert.equal(fromAuthFile(f, 'x.io', 'a'), undefined);
    fs.rmSync(join(f, '..'), { recursive: true });
  });
  it('parses WWW-Authenticate challenges', () => {
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push"'), {
      scheme: 'bearer',
      params: { realm: 'https://a/token', service: 'reg', scope: 'repository:x:pull,push' },
    });
  });
  it('picks the linux platform of this machine', () => {
    const m = (architecture: string, variant?: string) => ({ mediaType: 'x', digest: `${architecture}${variant ?? ''}`, size: 1, platform: { os: 'linux', architecture, variant } });
    const idx = { manifests: [m('arm', 'v7'), m('arm64', 'v8'), m('amd64'), { ...m('amd64'), platform: { os: 'windows', architecture: 'amd64' }, digest: 'win' }] };
    assert.equal(choosePlatform(idx, { os: 'linux', architecture: 'amd64' }).digest, 'amd64');
    assert.equal(choosePlatform(idx, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest, 'arm64v8');
    assert.throws(() => choosePlatform(idx, { os: 'linux', architecture: 's390x' }), /no image/);
  });
  it('computes chain ids as the OCI spec does', () => {
    const a = `sha256:${'a'.repeat(64)}`;
    const b = `sha256:${'b'.repeat(64)}`;
    const [c0, c1] = chainIds([a, b]);
    assert.equal(c0, a);
    assert.equal(c1, `sha256:${require('node:crypto').createHash('sha256').update(`${a} ${b}`).digest('hex')}`);
  });
});
