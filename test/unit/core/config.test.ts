import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyToml, defaultConfig, loadConfig, parseHostPort, socketPath } from '../../../src/config';
import { configToToml } from '../../../src/config_print';
import { InvalidArgumentError } from '../../../src/errors';

describe('config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync('/tmp/nori-cfg-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('has the documented defaults', () => {
    const { config } = loadConfig(['--config', writeToml('')]);
    assert.equal(config.listen, '/run/nori/nori.sock');
    assert.equal(config.root, '/var/lib/nori');
    assert.equal(config.state, '/run/nori');
    assert.equal(config.metricsListen, '127.0.0.1:9090');
    assert.equal(config.streamingListen, '127.0.0.1:0');
    assert.equal(config.cgroupDriver, 'cgroupfs');
    assert.equal(config.cniConfDir, '/etc/cni/net.d');
    assert.deepEqual(config.cniBinDirs, ['/usr/lib/cni', '/opt/cni/bin']);
    assert.equal(config.registriesConf, '/etc/containers/registries.conf');
    assert.equal(config.authFile, '/etc/containers/auth.json');
    assert.equal(config.logFormat, 'json');
    assert.equal(config.defaultRuntime, 'runc');
    assert.equal(config.runtimes.runc!.path, '/usr/sbin/runc');
    assert.equal(config.runtimes.crun!.path, '/usr/bin/crun');
    assert.equal(config.runtimes.runc!.root, '/run/nori/runc', 'handler state under --state');
    assert.equal(config.network, 'auto');
    assert.equal(config.bridge, 'nori0');
    assert.equal(config.podCidr, '', 'unset: UpdateRuntimeConfig, else 10.89.0.0/16');
    assert.match(configToToml(config), /pod-cidr "": UpdateRuntimeConfig's pod CIDR, else 10\.89\.0\.0\/16/);
  });

  it('takes the built-in network settings from the file and the flags', () => {
    const file = writeToml('network = "builtin"\nbridge = "br-a"\npod-cidr = "10.1.0.0/16"\n');
    const { config } = loadConfig(['--config', file, '--bridge', 'norilab0', '--pod-cidr', '10.90.0.0/16, fd90::/64']);
    assert.equal(config.network, 'builtin');
    assert.equal(config.bridge, 'norilab0');
    assert.equal(config.podCidr, '10.90.0.0/16,fd90::/64');
    const printed = configToToml(config);
    assert.match(printed, /^network = "builtin"$/m);
    assert.match(printed, /^bridge = "norilab0"$/m);
    assert.match(printed, /^pod-cidr = "10\.90\.0\.0\/16,fd90::\/64"$/m);
  });

  it('refuses bad built-in network settings', () => {
    const base = ['--config', writeToml('')];
    assert.throws(() => loadConfig([...base, '--network', 'flannel']), /auto, builtin, cni/);
    assert.throws(() => loadConfig([...base, '--bridge', 'a-name-longer-than-15']), /not a Linux interface name/);
    assert.throws(() => loadConfig([...base, '--bridge', 'a/b']), /not a Linux interface name/);
    assert.throws(() => loadConfig([...base, '--pod-cidr', '10.0.0.0']), /not an IPv4/);
    assert.throws(() => loadConfig([...base, '--pod-cidr', '10.0.0.0/31']), /not an IPv4/);
    assert.throws(() => loadConfig([...base, '--pod-cidr', '10.0.0.0/16,10.1.0.0/16']), /two IPv4 subnets/);
    assert.throws(() => loadConfig([...base, '--pod-cidr', 'fd00::/127']), /IPv6/);
  });

  it('file overrides defaults and flags override the file', () => {
    const file = writeToml(`
listen = "/tmp/a.sock"
root = "/var/lib/a"
log-level = "debug"
cni-bin-dir = ["/x", "/y"]
[runtimes.kata]
path = "/usr/bin/kata-runtime"
options = ["--debug"]
`);
    const { config } = loadConfig(['--config', file, '--root=/var/lib/b', '--listen', 'unix:///tmp/b.sock']);
    assert.equal(config.listen, '/tmp/b.sock');
    assert.equal(config.root, '/var/lib/b');
    assert.equal(config.logLevel, 'debug');
    assert.deepEqual(config.cniBinDirs, ['/x', '/y']);
    assert.deepEqual(config.runtimes.kata, { path: '/usr/bin/kata-runtime', options: ['--debug'], root: '/run/nori/kata' });
    assert.ok(config.runtimes.runc, 'built-in handlers stay');
  });

  it('refuses unknown flags, unknown settings, bad enums and a missing explicit file', () => {
    assert.throws(() => loadConfig(['--nope=1']), InvalidArgumentError);
    assert.throws(() => loadConfig(['--config', writeToml('colour = "blue"')]), /unknown setting "colour"/);
    assert.throws(() => loadConfig(['--config', writeToml(''), '--cgroup-driver', 'magic']), /cgroupfs, systemd/);
    assert.throws(() => loadConfig(['--config', join(dir, 'missing.toml')]), /does not exist/);
    assert.throws(() => loadConfig(['--config', writeToml('root = ')]), InvalidArgumentError);
    assert.throws(() => loadConfig(['--config', writeToml(''), '--default-runtime', 'kata']), /"kata" is not a configured handler/);
  });

  it('`nori config` output reads back to the same configuration', () => {
    const { config } = loadConfig(['--config', writeToml(''), '--root', '/r', '--cgroup-driver', 'systemd', '--network', 'cni']);
    const c2 = defaultConfig();
    applyToml(c2, configToToml(config), 'printed');
    c2.configFile = config.configFile;
    c2.listen = socketPath(c2.listen);
    assert.deepEqual(c2, config);
  });

  it('parses listen addresses', () => {
    assert.equal(socketPath('unix:///run/x.sock'), '/run/x.sock');
    assert.equal(socketPath('/run/x.sock'), '/run/x.sock');
    assert.throws(() => socketPath('tcp://1.2.3.4:5'), InvalidArgumentError);
    assert.deepEqual(parseHostPort('127.0.0.1:9090', 'm'), { host: '127.0.0.1', port: 9090 });
    assert.deepEqual(parseHostPort('[::1]:0', 'm'), { host: '::1', port: 0 });
    assert.equal(parseHostPort('', 'm'), null);
    assert.throws(() => parseHostPort('localhost', 'm'), InvalidArgumentError);
  });

  function writeToml(text: string): string {
    const f = join(dir, `c${Math.random().toString(36).slice(2)}.toml`);
    writeFileSync(f, text);
    return f;
  }
});
