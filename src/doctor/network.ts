// The pod network: with CNI, a loadable network config whose plugins are all installed (what
// Status reports as NetworkReady), and the packet filter tool its plugins call; with the
// built-in network (--network builtin, or auto without a CNI config), libnftables.

import { basename } from 'node:path';
import type { Config } from '../config';
import { errorMessage } from '../errors';
import { loadDefaultNetwork } from '../network/cni-config';
import { NativeNetSys } from '../sys/net';
import { fail, pass, type Check } from './check';
import { firewallCheck } from './binaries';

/** The built-in network writes its table through libnftables, loaded by the addon on first use. */
async function builtinChecks(config: Config, why: string): Promise<Check[]> {
  const desc = `built-in bridge ${config.bridge}${config.podCidr ? `, ${config.podCidr}` : ''} (${why})`;
  try {
    await new NativeNetSys().nft('list tables');
  } catch (e) {
    return [fail('network', 'pod network', `${desc}: libnftables unusable: ${errorMessage(e)}`, 'apt-get install libnftables1 (and npm run build:native)')];
  }
  return [pass('network', 'pod network', `${desc}; libnftables loads`), await firewallCheck(false)];
}

export async function networkChecks(config: Config): Promise<Check[]> {
  const mode = config.network;
  if (mode === 'builtin') return builtinChecks(config, '--network builtin');
  const r = await loadDefaultNetwork(config.cniConfDir, { binDirs: config.cniBinDirs });
  if (!r.network) {
    if (mode === 'auto') return builtinChecks(config, `no valid CNI config in ${config.cniConfDir}`);
    return [
      fail(
        'network', 'CNI network', r.reason,
        r.skipped.some((s) => /plugin ".*" not found/.test(s.reason))
          ? `apt-get install containernetworking-plugins, or add the plugins' directory to cni-bin-dir (now ${config.cniBinDirs.join(':')})`
          : `install a network config in ${config.cniConfDir} (cluster add-ons write their own; or run the built-in network: --network auto|builtin)`,
        { skipped: r.skipped },
      ),
      await firewallCheck(false),
    ];
  }
  const net = r.network;
  const file = net.file ? basename(net.file) : '';
  const types = net.plugins.map((p) => p.type);
  const needIptables = net.plugins.some((p) => p.type === 'portmap' || p.type === 'firewall' || p.conf.ipMasq === true);
  return [
    pass('network', 'CNI network', `"${net.name}" from ${file || config.cniConfDir}: plugins ${types.join(' ')} found in ${config.cniBinDirs.join(':')}`, { name: net.name, plugins: types }),
    await firewallCheck(needIptables),
  ];
}
