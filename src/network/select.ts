// The daemon's pod network from its configuration (CNI, the built-in bridge, or auto).

import type { Config } from '../config';
import type { Db } from '../store/db';
import { NativeNetSys, type NetSys } from '../sys/net';
import { BridgeNetwork } from './bridge/bridge-network';
import { CniNetwork } from './cni-network';
import { PodNetwork } from './pod-network';

export function createPodNetwork(config: Config, db: Db, net: NetSys = new NativeNetSys(), cni?: CniNetwork): PodNetwork {
  // <root>/cni, not /var/lib/cni: the cache must outlive a reboot (the IP leases of host-local
  // do, and DEL needs the ADD's config to release them) and belongs to this daemon alone.
  const c = cni ?? new CniNetwork({ cacheDir: `${config.root}/cni`, confDir: config.cniConfDir, binDirs: config.cniBinDirs });
  const builtin = new BridgeNetwork({ bridge: config.bridge, podCidr: config.podCidr, db, net });
  return new PodNetwork(config.network, c, builtin);
}
