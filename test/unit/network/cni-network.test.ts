import { strict as assert } from 'node:assert';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CancelledError, FailedPreconditionError } from '../../../src/errors';
import { CniNotReadyError, CniPluginError, CniPluginTimeoutError } from '../../../src/network/cni-errors';
import { CniNetwork } from '../../../src/network/cni-network';
import type { RuntimeConf } from '../../../src/network/cni-types';
import { podRuntimeConf } from '../../../src/network/pod-runtime-conf';
import { FakePlugins, podResult } from './fake-plugins';

const SANDBOX = 'abc123';

function rt(overrides: Partial<RuntimeConf> = {}): RuntimeConf {
  return {
    ...podRuntimeConf({
      sandboxId: SANDBOX,
      netns: '/proc/self/ns/net',
      podName: 'web-0',
      podNamespace: 'default',
      podUid: 'uid-1',
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 0, hostIp: '127.0.0.1' }],
      bandwidth: { ingressRate: 1000000, ingressBurst: 4294967295 },
    }),
    ...overrides,
  };
}

const twoPlugins = {
  cniVersion: '1.0.0',
  name: 'testnet',
  plugins: [
    { type: 'first', bridge: 'br-test', capabilities: { portMappings: false, bandwidth: true } },
    { type: 'second', capabilities: { portMappings: true }, snat: true },
  ],
};

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

describe('network/cni-network (fake plugins)', () => {
  let fx: FakePlugins;
  let net: CniNetwork;
  const first = podResult(['10.1.0.5/24']);
  const second = { ...podResult(['10.1.0.5/24']), routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16' }] };

  beforeEach(async () => {
    fx = await FakePlugins.create();
    await fx.plugin('first', { ADD: { stdout: first } });
    await fx.plugin('second', { ADD: { stdout: second } });
    await fx.plugin('third', { ADD: { stdout: second } });
    await fx.writeConf('10-test.conflist', twoPlugins);
    net = new CniNetwork({ confDir: fx.confDir, binDirs: [path.join(fx.root, 'nothing-here'), fx.binDir], cacheDir: fx.cacheDir, execTimeoutMs: 5000 });
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  describe('ADD', () => {
    it('passes the CNI environment and keeps ours', async () => {
      await net.add(rt());
      const [call] = await fx.calls();
      assert.ok(call);
      assert.equal(call.env['CNI_COMMAND'], 'ADD');
      assert.equal(call.env['CNI_CONTAINERID'], SANDBOX);
      assert.equal(call.env['CNI_NETNS'], '/proc/self/ns/net');
      assert.equal(call.env['CNI_IFNAME'], 'eth0');
      assert.equal(call.env['CNI_ARGS'], `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=${SANDBOX};K8S_POD_UID=uid-1`);
      assert.equal(call.env['CNI_PATH'], `${path.join(fx.root, 'nothing-here')}:${fx.binDir}`);
      assert.equal(call.env['PATH'], process.env['PATH']);
    });

    it('injects name and cniVersion, runtimeConfig only for declared capabilities, and chains prevResult', async () => {
      const out = await net.add(rt());
      const calls = await fx.calls();
      assert.deepEqual(calls.map((c) => c.plugin), ['first', 'second']);
      const [a, b] = calls.map((c) => c.stdin);
      assert.equal(a!['name'], 'testnet');
      assert.equal(a!['cniVersion'], '1.0.0');
      assert.equal(a!['bridge'], 'br-test');
      // first declares bandwidth (portMappings: false), second declares portMappings.
      assert.deepEqual(a!['runtimeConfig'], { bandwidth: { ingressRate: 1000000, ingressBurst: 4294967295 } });
      assert.deepEqual(b!['runtimeConfig'], { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }] });
      assert.equal(a!['prevResult'], undefined);
      assert.deepEqual(b!['prevResult'], first);
      assert.equal(b!['snat'], true);
      // The network's result is the last plugin's.
      assert.equal(out.networkName, 'testnet');
      assert.deepEqual(out.result.raw, second);
      assert.equal(out.result.routes.length, 2);
    });

    it('gives no runtimeConfig to a plugin whose capabilities have no args', async () => {
      await net.add(rt({ capabilityArgs: {} }));
      const calls = await fx.calls();
      assert.ok(calls.every((c) => !('runtimeConfig' in c.stdin)));
    });

    it('caches the result in libcni layout', async () => {
      await net.add(rt());
      const file = path.join(fx.cacheDir, 'results', `testnet-${SANDBOX}-eth0`);
      const st = await fs.stat(file);
      assert.equal(st.mode & 0o777, 0o600);
      const cached = JSON.parse(await fs.readFile(file, 'utf8'));
      assert.equal(cached.kind, 'cniCacheV1');
      assert.equal(cached.containerId, SANDBOX);
      assert.equal(cached.ifName, 'eth0');
      assert.equal(cached.networkName, 'testnet');
      assert.equal(cached.netns, '/proc/self/ns/net');
      assert.deepEqual(Buffer.from(cached.config, 'base64'), await fs.readFile(path.join(fx.confDir, '10-test.conflist')));
      assert.deepEqual(cached.cniArgs[1], ['K8S_POD_NAMESPACE', 'default']);
      assert.equal(cached.capabilityArgs.portMappings[0].hostPort, 8080);
      assert.deepEqual(cached.result, second);
      assert.deepEqual((await net.cachedResult(SANDBOX))?.result.raw, second);
    });

    it('validates the container id and interface name as libcni does', async () => {
      await assert.rejects(net.add(rt({ containerId: 'bad/id' })), /invalid characters in containerID/);
      await assert.rejects(net.add(rt({ ifName: 'a-very-long-ifname' })), /too long/);
      assert.equal((await fx.calls()).length, 0);
    });

    it('fails with CniNotReadyError when the conf dir has no valid network', async () => {
      await fs.rm(path.join(fx.confDir, '10-test.conflist'));
      await assert.rejects(net.add(rt()), (e: unknown) => e instanceof CniNotReadyError && e instanceof FailedPreconditionError && /no network config found in/.test(e.message));
    });
  });

  describe('DEL', () => {
    it('runs plugins in reverse with the cached config, args and result, then drops the cache entry', async () => {
      await net.add(rt());
      await fx.clearCalls();
      // The conf dir changes after the ADD: DEL must still use what the ADD used.
      await fx.writeConf('10-test.conflist', { cniVersion: '0.4.0', name: 'testnet', plugins: [{ type: 'third' }] });
      const out = await net.del(rt({ args: [['K8S_POD_NAME', 'changed']], capabilityArgs: {} }));
      assert.deepEqual(out.torn, [{ networkName: 'testnet', source: 'cache' }]);
      const calls = await fx.calls();
      assert.deepEqual(calls.map((c) => `${c.plugin}:${c.command}`), ['second:DEL', 'first:DEL']);
      for (const c of calls) {
        assert.deepEqual(c.stdin['prevResult'], second);
        assert.equal(c.stdin['cniVersion'], '1.0.0');
        assert.match(c.env['CNI_ARGS']!, /K8S_POD_NAME=web-0/);
      }
      // Capability args come from the cache too.
      assert.equal((calls[0]!.stdin['runtimeConfig'] as any).portMappings[0].hostPort, 8080);
      await assert.rejects(fs.stat(path.join(fx.cacheDir, 'results', `testnet-${SANDBOX}-eth0`)), /ENOENT/);
    });

    it('converts the cached result to the cached config version for prevResult', async () => {
      await fx.writeConf('10-test.conflist', { ...twoPlugins, cniVersion: '0.4.0' });
      await net.add(rt());
      await fx.clearCalls();
      await net.del(rt());
      const [c] = await fx.calls();
      const prev = c!.stdin['prevResult'] as Record<string, any>;
      assert.equal(prev['cniVersion'], '0.4.0');
      assert.equal(prev['ips'][0].version, '4');
    });

    it('without a cache entry uses the current config and no prevResult; twice is fine', async () => {
      for (let i = 0; i < 2; i++) {
        const out = await net.del(rt());
        assert.deepEqual(out.torn, [{ networkName: 'testnet', source: 'config' }]);
      }
      const calls = await fx.calls();
      assert.deepEqual(calls.map((c) => c.plugin), ['second', 'first', 'second', 'first']);
      assert.ok(calls.every((c) => c.command === 'DEL' && !('prevResult' in c.stdin)));
    });

    it('does not pass prevResult to pre-0.4.0 configs', async () => {
      await fx.writeConf('10-test.conflist', { ...twoPlugins, cniVersion: '0.3.1' });
      await net.add(rt());
      await fx.clearCalls();
      await net.del(rt());
      assert.ok((await fx.calls()).every((c) => !('prevResult' in c.stdin)));
    });

    it('passes an empty CNI_NETNS when the netns is gone or is not a namespace', async () => {
      const notNs = path.join(fx.root, 'stale-pin');
      await fs.writeFile(notNs, '');
      await net.del(rt({ netns: path.join(fx.root, 'gone') }));
      await net.del(rt({ netns: notNs }));
      await net.del(rt({ netns: '/proc/self/ns/net' }));
      const netns = (await fx.calls()).filter((c) => c.plugin === 'first').map((c) => c.env['CNI_NETNS']);
      assert.deepEqual(netns, ['', '', '/proc/self/ns/net']);
    });

    it('works from the cache after a restart even with the conf dir emptied', async () => {
      await net.add(rt());
      await fs.rm(path.join(fx.confDir, '10-test.conflist'));
      const restarted = new CniNetwork({ confDir: fx.confDir, binDirs: [fx.binDir], cacheDir: fx.cacheDir });
      await fx.clearCalls();
      await restarted.del(rt());
      assert.deepEqual((await fx.calls()).map((c) => c.plugin), ['second', 'first']);
      // Nothing cached and nothing configured: there is nothing to tear down with.
      await assert.rejects(restarted.del(rt()), CniNotReadyError);
    });

    it('ignores a corrupt cache entry, tears down with the current config and removes the entry', async () => {
      const file = path.join(fx.cacheDir, 'results', `testnet-${SANDBOX}-eth0`);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, '{"kind":"cniCacheV1", truncated');
      const out = await net.del(rt());
      assert.equal(out.torn[0]!.source, 'config');
      await assert.rejects(fs.stat(file), /ENOENT/);
    });

    it('stops at the first failing plugin and keeps the cache entry for a retry', async () => {
      await net.add(rt());
      await fx.behave('second', 'DEL', { exit: 1, stdout: { code: 11, msg: 'try again later' } });
      await assert.rejects(net.del(rt()), (e: unknown) => e instanceof CniPluginError && e.code === 11 && e.command === 'DEL');
      await fs.stat(path.join(fx.cacheDir, 'results', `testnet-${SANDBOX}-eth0`));
      await fx.behave('second', 'DEL', {});
      await net.del(rt());
    });
  });

  describe('errors', () => {
    it('parses the CNI error object from stdout', async () => {
      await fx.behave('second', 'ADD', { exit: 1, stdout: { cniVersion: '1.0.0', code: 7, msg: 'bad config', details: 'bridge missing' } });
      await assert.rejects(net.add(rt()), (e: unknown) => {
        assert.ok(e instanceof CniPluginError);
        assert.equal(e.network, 'testnet');
        assert.equal(e.plugin, 'second');
        assert.equal(e.command, 'ADD');
        assert.equal(e.code, 7);
        assert.equal(e.msg, 'bad config');
        assert.equal(e.details, 'bridge missing');
        assert.equal(e.message, 'network "testnet": plugin type="second" failed (add): bad config; bridge missing');
        return true;
      });
      // No cache entry for a failed ADD.
      assert.deepEqual(await net.cachedAttachments(), []);
    });

    it('uses stderr, or the exit status, when stdout is empty', async () => {
      await fx.behave('first', 'ADD', { exit: 3, stderr: 'boom on stderr' });
      await assert.rejects(net.add(rt()), /netplugin failed: "boom on stderr": exit status 3/);
      await fx.behave('first', 'ADD', { exit: 4 });
      await assert.rejects(net.add(rt()), /netplugin failed with no error message: exit status 4/);
    });

    it('reports unparseable error output and invalid results', async () => {
      await fx.behave('first', 'ADD', { exit: 1, stdout: 'not json' });
      await assert.rejects(net.add(rt()), /error parsing its diagnostic message "not json"/);
      await fx.behave('first', 'ADD', { stdout: '{"cniVersion":"1.0.0","ips":[{"address":"nope"}]}' });
      await assert.rejects(net.add(rt()), (e: unknown) => e instanceof CniPluginError && e.plugin === 'first' && /invalid result/.test(e.message));
    });

    it('kills a plugin (and its children) that runs past the timeout', async () => {
      const quick = new CniNetwork({ confDir: fx.confDir, binDirs: [fx.binDir], cacheDir: fx.cacheDir, execTimeoutMs: 300 });
      await fx.behave('first', 'ADD', { sleep: 30, stdout: first });
      const started = Date.now();
      await assert.rejects(quick.add(rt()), (e: unknown) => e instanceof CniPluginTimeoutError && e.plugin === 'first' && e.timeoutMs === 300 && /timed out after 300ms/.test(e.message));
      assert.ok(Date.now() - started < 3000, 'returned promptly');
      const [call] = await fx.calls();
      assert.ok(call?.sleepPid, 'the plugin started its child');
      const deadline = Date.now() + 2000;
      while ((isAlive(call.pid) || isAlive(call.sleepPid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(isAlive(call.pid), false, 'plugin killed');
      assert.equal(isAlive(call.sleepPid), false, 'plugin child killed');
    });

    it('an aborted call kills the plugin and rejects with CancelledError', async () => {
      await fx.behave('first', 'ADD', { sleep: 30 });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      await assert.rejects(net.add(rt(), { signal: ac.signal }), CancelledError);
    });
  });

  describe('CHECK and STATUS', () => {
    it('CHECK runs in order with the cached result; disableCheck skips it; 0.3.1 refuses', async () => {
      await net.add(rt());
      await fx.clearCalls();
      await net.check(rt());
      const calls = await fx.calls();
      assert.deepEqual(calls.map((c) => `${c.plugin}:${c.command}`), ['first:CHECK', 'second:CHECK']);
      assert.deepEqual(calls[0]!.stdin['prevResult'], second);

      await fx.clearCalls();
      await fx.writeConf('10-test.conflist', { ...twoPlugins, disableCheck: true });
      await net.check(rt());
      assert.equal((await fx.calls()).length, 0);

      await fx.writeConf('10-test.conflist', { ...twoPlugins, cniVersion: '0.3.1' });
      await assert.rejects(net.check(rt()), /does not support the CHECK command/);
    });

    it('status: not ready naming the dir until a valid conflist exists', async () => {
      await fs.rm(path.join(fx.confDir, '10-test.conflist'));
      let s = await net.status();
      assert.equal(s.ready, false);
      assert.equal(s.reason, 'NetworkPluginNotReady');
      assert.ok(s.message.includes(fx.confDir));
      await fx.writeConf('10-bad.conflist', '{');
      s = await net.status();
      assert.equal(s.ready, false);
      assert.match(s.message, /10-bad\.conflist/);
      await fx.writeConf('20-good.conflist', twoPlugins);
      s = await net.status();
      assert.equal(s.ready, true);
      assert.equal(s.network?.name, 'testnet');
      // 1.0.0 has no STATUS command: nothing was executed.
      assert.equal((await fx.calls()).length, 0);
    });

    it('status runs STATUS for 1.1.0 networks and reports a failing plugin', async () => {
      await fx.writeConf('10-test.conflist', { ...twoPlugins, cniVersion: '1.1.0' });
      assert.equal((await net.status()).ready, true);
      const calls = await fx.calls();
      assert.deepEqual(calls.map((c) => `${c.plugin}:${c.command}`), ['first:STATUS', 'second:STATUS']);
      assert.equal(calls[0]!.env['CNI_CONTAINERID'], '');
      assert.equal(calls[0]!.stdin['runtimeConfig'], undefined);
      await fx.behave('second', 'STATUS', { exit: 1, stdout: { code: 50, msg: 'plugin not available' } });
      const s = await net.status();
      assert.equal(s.ready, false);
      assert.match(s.message, /plugin not available/);
    });
  });

  it('serializes operations on one attachment: a DEL issued during an ADD runs after it', async () => {
    await fx.behave('first', 'ADD', { sleep: 0.3, stdout: first });
    const add = net.add(rt());
    const del = net.del(rt());
    await Promise.all([add, del]);
    const order = (await fx.calls()).map((c) => `${c.plugin}:${c.command}`);
    assert.deepEqual(order, ['first:ADD', 'second:ADD', 'second:DEL', 'first:DEL']);
  });
});
