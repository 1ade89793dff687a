// A pod's network as netlink reports it: each interface in the pod's netns with its addresses,
// and for a veth its peer on the host (the host link whose ifindex is the pod side's link
// index), the bridge that peer is enslaved to and the bridge's addresses.

import { runText } from './exec';

interface IpLink {
  ifindex: number;
  ifname: string;
  link_index?: number;
  address?: string;
  mtu?: number;
  master?: string;
  operstate?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

export interface HostPeer {
  name: string;
  ifindex: number;
  mac: string;
  /** The bridge the host side is enslaved to ("" when none). */
  bridge: string;
}

export interface PodInterface {
  name: string;
  ifindex: number;
  kind: string;
  mac: string;
  mtu: number;
  state: string;
  addresses: string[];
  /** For a veth: its other end in the host's netns. */
  peer?: HostPeer;
}

export interface BridgeView {
  name: string;
  ifindex: number;
  addresses: string[];
}

export interface NetworkView {
  netns: string;
  interfaces: PodInterface[];
  bridges: BridgeView[];
  /** Set when a view could not be read (a tool missing, the netns gone). */
  error?: string;
}

const cidrs = (l: IpLink) => (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);

function parse(text: string | null): IpLink[] | undefined {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as IpLink[];
  } catch {
    return undefined;
  }
}

/** Reads both sides: `nsenter --net=<netns> ip -j -d addr` and the host's `ip -j -d addr`. */
export async function podNetwork(netnsPath: string): Promise<NetworkView> {
  const [inPod, onHost] = await Promise.all([
    runText('nsenter', [`--net=${netnsPath}`, '--', 'ip', '-j', '-d', 'addr', 'show']).then(parse),
    runText('ip', ['-j', '-d', 'addr', 'show']).then(parse),
  ]);
  if (!inPod || !onHost) return { netns: netnsPath, interfaces: [], bridges: [], error: 'ip/nsenter could not read the links' };
  return joinSides(netnsPath, inPod, onHost);
}

/** Pure: pairs pod-side links with host-side peers and bridges. */
export function joinSides(netns: string, inPod: IpLink[], onHost: IpLink[]): NetworkView {
  const hostByIndex = new Map(onHost.map((l) => [l.ifindex, l]));
  const bridges = new Map<string, BridgeView>();
  const interfaces: PodInterface[] = [];
  for (const l of inPod) {
    if (l.ifname === 'lo') continue;
    const kind = l.linkinfo?.info_kind ?? '';
    const itf: PodInterface = {
      name: l.ifname, ifindex: l.ifindex, kind, mac: l.address ?? '', mtu: l.mtu ?? 0, state: l.operstate ?? '', addresses: cidrs(l),
    };
    const host = kind === 'veth' && l.link_index !== undefined ? hostByIndex.get(l.link_index) : undefined;
    if (host && host.linkinfo?.info_kind === 'veth') {
      itf.peer = { name: host.ifname, ifindex: host.ifindex, mac: host.address ?? '', bridge: host.master ?? '' };
      const br = host.master ? onHost.find((h) => h.ifname === host.master) : undefined;
      if (br && !bridges.has(br.ifname)) bridges.set(br.ifname, { name: br.ifname, ifindex: br.ifindex, addresses: cidrs(br) });
    }
    interfaces.push(itf);
  }
  return { netns, interfaces, bridges: [...bridges.values()] };
}
