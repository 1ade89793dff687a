// A pod's network as rtnetlink reports it (read in-process, src/sys/net_links.ts): each
// interface in the pod's netns with its addresses, and for a veth its peer on the host (the host link whose ifindex is the pod side's link
// index), the bridge that peer is enslaved to and the bridge's addresses.

import { hostLinks, listLinks, type IpLink } from '../sys/net_links';

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

/** Reads both sides through rtnetlink in-process (what `ip -d addr` shows in the pod and on the host): the pod's links, then only their peers and bridges on the host. */
export async function podNetwork(netnsPath: string): Promise<NetworkView> {
  try {
    const inPod = await listLinks(netnsPath);
    const peers = inPod.filter((l) => l.linkinfo?.info_kind === 'veth' && l.link_index !== undefined).map((l) => l.link_index!);
    return joinSides(netnsPath, inPod, peers.length ? await hostLinks(peers) : []);
  } catch (e) {
    return { netns: netnsPath, interfaces: [], bridges: [], error: `netlink could not read the links: ${(e as Error).message}` };
  }
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
