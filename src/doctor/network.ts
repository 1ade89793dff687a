// The pod network: with CNI, a loadable network config whose plugins are all installed (what
// Status reports as NetworkReady), and the packet filter tool its plugins call.

import { basename } from 'node:path';
import type { Config } from '../config';
import { loadDefaultNetwork } from '../network/cni-config';
import { fail, pass, type Check } from './check';
import { firewallCheck } from './binaries';

/**
 * The network mode: the built-in network's `network` setting when the config has it ("cni",
 * "builtin" or "auto"); without it nori is CNI-only.
 */
function networkMode(config: Config): string {
  const mode = (config as unknown as { network?: unknown }).network;
  return typeof mode === 'string' ? mode : 'cni';
}

export async function networkChecks(config: Config): Promise<Check[]> {
  const mode = networkMode(config);
  if (mode === 'builtin') {
    return [pass('network', 'pod network', 'built-in bridge network (no CNI plugins needed)'), await firewallCheck(false)];
  }
  const r = await loadDefaultNetwork(config.cniConfDir, { binDirs: config.cniBinDirs });
  if (!r.network) {
    if (mode === 'auto') {
      return [pass('network', 'pod network', `no CNI config in ${config.cniConfDir}: the built-in network serves pods`), await firewallCheck(false)];
    }
    return [
      fail(
        'network', 'CNI network', r.reason,
        r.skipped.some((s) => /plugin ".*" not found/.test(s.reason))
          ? `apt-get install containernetworking-plugins, or add the plugins' directory to cni-bin-dir (now ${config.cniBinDirs.join(':')})`
          : `install a network config in ${config.cniConfDir} (setup writes 10-nori.conflist; cluster add-ons write their own)`,
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
