// Read-only rtnetlink: the links of a netns with kind, peer index, master and addresses, shaped
// like `ip -j -d addr show` entries (native/src/netlink_read.cc). In-process: the verbose status
// view (src/inspect/network.ts) starts no `ip`/`nsenter` per call. A pod's netns is read from a
// short-lived thread of the addon's own, never from Node's threads.

import { FailedPreconditionError } from '../errors';
import { loadAddon } from './native';

export interface IpLink {
  ifindex: number;
  ifname: string;
  /** IFLA_LINK: for a veth, its peer's ifindex (in the peer's netns). */
  link_index?: number;
  address?: string;
  mtu?: number;
  /** Name of the link this one is enslaved to (a bridge). */
  master?: string;
  operstate?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

interface LinksAddon {
  netListLinks?(netns: string | null): Promise<IpLink[]>;
  netHostLinks?(ifindexes: number[]): Promise<IpLink[]>;
}

/** The links of the host's netns (null) or of the netns pinned at `netns`. */
export function listLinks(netns: string | null): Promise<IpLink[]> {
  const f = (loadAddon() as unknown as LinksAddon).netListLinks;
  if (!f) return Promise.reject(new FailedPreconditionError('native addon lacks netListLinks (run npm run build:native)'));
  return f(netns);
}

/**
 * The host's links with these ifindexes (a pod's veth peers), the links they are enslaved to (the
 * bridge) and those masters' addresses, asked by index: a node's full dump grows with every pod.
 * Falls back to the full dump with an older addon.
 */
export function hostLinks(ifindexes: number[]): Promise<IpLink[]> {
  const f = (loadAddon() as unknown as LinksAddon).netHostLinks;
  return f ? f(ifindexes) : listLinks(null);
}
