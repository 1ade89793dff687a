import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { loadDefaultNetwork, loadNetworkFile, parseNetworkConfList } from '../../../src/network/cni-config';
import { CniConfigError } from '../../../src/network/cni-errors';
import { FakePlugins } from './fake-plugins';

const conflist = (name: string, plugins: unknown[] = [{ type: 'a' }], extra: object = {}) => ({ cniVersion: '1.0.0', name, plugins, ...extra });

describe('network/cni-config', () => {
  let fx: FakePlugins;
  beforeEach(async () => {
    fx = await FakePlugins.create();
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('reports a missing dir as not ready, naming the dir', async () => {
    const dir = path.join(fx.root, 'nope');
    const r = await loadDefaultNetwork(dir);
    assert.equal(r.network, null);
    assert.match(r.reason, new RegExp(`no network config found in ${dir}`));
  });

  it('picks the first valid file by name and skips invalid ones with a reason', async () => {
    await fx.writeConf('05-broken.conflist', '{ not json');
    await fx.writeConf('06-noplugins.conflist', { cniVersion: '1.0.0', name: 'x', plugins: [] });
    await fx.writeConf('07-notype.conf', { cniVersion: '1.0.0', name: 'y' });
    await fx.writeConf('08-noname.conflist', { cniVersion: '1.0.0', plugins: [{ type: 'a' }] });
    await fx.writeConf('09-badname.conflist', conflist('bad name'));
    await fx.writeConf('10-good.conflist', conflist('good'));
    await fx.writeConf('20-later.conflist', conflist('later'));
    await fx.writeConf('00-ignored.txt', conflist('txt'));
    await fs.mkdir(path.join(fx.confDir, '01-dir.conflist'));

    const r = await loadDefaultNetwork(fx.confDir);
    assert.ok(r.network);
    assert.equal(r.network.name, 'good');
    assert.equal(r.network.file, path.join(fx.confDir, '10-good.conflist'));
    assert.equal(r.reason, '');
    assert.deepEqual(
      r.skipped.map((s) => path.basename(s.file)),
      ['05-broken.conflist', '06-noplugins.conflist', '07-notype.conf', '08-noname.conflist', '09-badname.conflist'],
    );
    const reasons = Object.fromEntries(r.skipped.map((s) => [path.basename(s.file), s.reason]));
    assert.match(reasons['05-broken.conflist']!, /error parsing configuration list/);
    assert.match(reasons['06-noplugins.conflist']!, /no plugins in list/);
    assert.match(reasons['07-notype.conf']!, /missing 'type'/);
    assert.match(reasons['08-noname.conflist']!, /no name/);
    assert.match(reasons['09-badname.conflist']!, /invalid characters/);
  });

  it('sorts by byte order of the file name, not by the network name', async () => {
    await fx.writeConf('99-a.conflist', conflist('aaa'));
    await fx.writeConf('10-z.conflist', conflist('zzz'));
    await fx.writeConf('10-Z.conflist', conflist('upper'));
    assert.equal((await loadDefaultNetwork(fx.confDir)).network?.name, 'upper');
  });

  it('wraps a single .conf (or .json) into a one-plugin list', async () => {
    const single = { cniVersion: '0.4.0', name: 'single', type: 'bridge', bridge: 'br9', ipam: { type: 'host-local' } };
    await fx.writeConf('10-single.json', single);
    const r = await loadDefaultNetwork(fx.confDir);
    assert.ok(r.network);
    assert.equal(r.network.name, 'single');
    assert.equal(r.network.cniVersion, '0.4.0');
    assert.equal(r.network.plugins.length, 1);
    assert.equal(r.network.plugins[0]!.type, 'bridge');
    assert.deepEqual(r.network.plugins[0]!.conf, single);
    // The cached bytes are the wrapped list, so DEL can re-read it as a conflist.
    const reparsed = parseNetworkConfList(r.network.bytes);
    assert.equal(reparsed.name, 'single');
    assert.deepEqual(reparsed.plugins[0]!.conf, single);
  });

  it('a .conf without a name is skipped (libcni would fail it at ADD)', async () => {
    await fx.writeConf('10-anon.conf', { cniVersion: '0.4.0', type: 'bridge' });
    const r = await loadDefaultNetwork(fx.confDir);
    assert.equal(r.network, null);
    assert.match(r.reason, /10-anon\.conf: missing network name/);
  });

  it('keeps the conflist bytes exactly as the file has them', async () => {
    const text = '{"name":"exact","cniVersion":"1.0.0",\n  "plugins":[{"type":"a","big":12345678901234567890}]}\n';
    const file = await fx.writeConf('10-exact.conflist', text);
    const net = await loadNetworkFile(file);
    assert.equal(net.bytes.toString(), text);
  });

  it('reads capabilities, disableCheck as a string, and cniVersions', async () => {
    await fx.writeConf(
      '10-caps.conflist',
      conflist('caps', [{ type: 'a', capabilities: { portMappings: true, bandwidth: false } }], {
        disableCheck: 'TRUE',
        cniVersion: '0.4.0',
        cniVersions: ['1.0.0', '0.3.1', '9.9.9'],
      }),
    );
    const net = (await loadDefaultNetwork(fx.confDir)).network!;
    assert.deepEqual([...net.plugins[0]!.capabilities], ['portMappings']);
    assert.equal(net.disableCheck, true);
    // The highest listed version this implementation speaks; 9.9.9 is newer than 1.1.0.
    assert.equal(net.cniVersion, '1.0.0');
  });

  it('rejects a non-boolean capability and a bad disableCheck', () => {
    assert.throws(() => parseNetworkConfList(Buffer.from(JSON.stringify(conflist('c', [{ type: 'a', capabilities: { portMappings: 'yes' } }])))), CniConfigError);
    assert.throws(() => parseNetworkConfList(Buffer.from(JSON.stringify(conflist('c', [{ type: 'a' }], { disableCheck: 'maybe' })))), /invalid value "maybe"/);
  });

  it('adds plugins from <dir>/<network>/*.conf unless loadOnlyInlinedPlugins', async () => {
    await fx.writeConf('10-split.conflist', conflist('split', [{ type: 'a' }]));
    await fs.mkdir(path.join(fx.confDir, 'split'));
    await fx.writeConf('split/20-b.conf', { type: 'b' });
    await fx.writeConf('split/10-c.conf', { type: 'c' });
    const net = (await loadDefaultNetwork(fx.confDir)).network!;
    assert.deepEqual(net.plugins.map((p) => p.type), ['a', 'c', 'b']);
    // What gets cached for DEL holds all of them.
    assert.deepEqual(parseNetworkConfList(net.bytes).plugins.map((p) => p.type), ['a', 'c', 'b']);

    await fx.writeConf('10-split.conflist', conflist('split', [{ type: 'a' }], { loadOnlyInlinedPlugins: true }));
    const inlined = (await loadDefaultNetwork(fx.confDir)).network!;
    assert.deepEqual(inlined.plugins.map((p) => p.type), ['a']);
  });

  it('with bin dirs, skips a network whose plugin binary is missing', async () => {
    await fx.plugin('present');
    await fx.writeConf('10-missing.conflist', conflist('missing', [{ type: 'present' }, { type: 'absent' }]));
    await fx.writeConf('20-ok.conflist', conflist('ok', [{ type: 'present' }]));
    const r = await loadDefaultNetwork(fx.confDir, { binDirs: [path.join(fx.root, 'empty'), fx.binDir] });
    assert.equal(r.network?.name, 'ok');
    assert.match(r.skipped[0]!.reason, /plugin "absent" not found/);
  });

  it('the default conflist template is the nori network: bridge nori0, host-local, portmap, no loopback', async () => {
    const file = path.resolve(__dirname, '../../../../hack/cni/10-nori.conflist');
    const net = await loadNetworkFile(file);
    assert.equal(net.name, 'nori');
    assert.equal(net.cniVersion, '1.0.0');
    assert.deepEqual(net.plugins.map((p) => p.type), ['bridge', 'portmap']);
    const bridge = net.plugins[0]!.conf as Record<string, any>;
    assert.equal(bridge['bridge'], 'nori0');
    assert.equal(bridge['isGateway'], true);
    assert.equal(bridge['ipMasq'], true);
    assert.equal(bridge['hairpinMode'], true);
    assert.equal(bridge['ipam'].type, 'host-local');
    assert.deepEqual(bridge['ipam'].ranges, [[{ subnet: '10.89.0.0/16' }]]);
    assert.deepEqual(bridge['ipam'].routes, [{ dst: '0.0.0.0/0' }]);
    assert.deepEqual([...net.plugins[1]!.capabilities], ['portMappings']);
    assert.equal((net.plugins[1]!.conf as Record<string, unknown>)['snat'], true);
  });
});
