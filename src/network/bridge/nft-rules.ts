// The built-in network's netfilter rules as nft scripts (pure functions; nft-apply runs them).
//
// One table per daemon, `inet nori_<bridge>`: several daemons on a host each own theirs, and a
// table of our own coexists with iptables-nft users (kube-proxy's `ip nat`, `ip filter`).
//   postrouting  one masquerade rule per pod subnet (what the bridge plugin's ipMasq does with a
//                chain per pod: everything leaving the subnet, multicast excepted), and one
//                that masquerades DNATed connections from localhost and from pods going back out
//                the bridge (portmap's hairpin/localhost SNAT);
//   prerouting / output  traffic to a local address jumps to `hostports`, which DNATs through
//                four maps (protocol . port, or address . protocol . port, per family): a pod's
//                hostPorts are map elements, so adding or removing them touches no rule;
//   input        the guard that route_localnet on the bridge needs (below).

import type { HostPortClaim } from '../../store/lease_store';
import type { Subnet } from './cidr';

export function tableName(bridge: string): string {
  return `nori_${bridge.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

type MapName = 'hp4' | 'hp4ip' | 'hp6' | 'hp6ip';

function mapOf(c: Pick<HostPortClaim, 'family' | 'hostIp'>): MapName {
  return `hp${c.family}${c.hostIp === '' ? '' : 'ip'}` as MapName;
}

function keyOf(c: Pick<HostPortClaim, 'hostIp' | 'protocol' | 'hostPort'>): string {
  return `${c.hostIp === '' ? '' : `${c.hostIp} . `}${c.protocol} . ${c.hostPort}`;
}

function elementOf(c: HostPortClaim): string {
  return `${keyOf(c)} : ${c.podIp} . ${c.containerPort}`;
}

export function addClaimsScript(table: string, claims: readonly HostPortClaim[]): string {
  return claims.map((c) => `add element inet ${table} ${mapOf(c)} { ${elementOf(c)} }\n`).join('');
}

/** One command per claim: a failed delete (already gone) must not undo the others. */
export function deleteClaimCommands(table: string, claims: readonly HostPortClaim[]): string[] {
  return claims.map((c) => `delete element inet ${table} ${mapOf(c)} { ${keyOf(c)} }\n`);
}

/**
 * The whole table, idempotently: chains and maps made when missing, rules rewritten, map
 * elements re-filled from the store's claims. One nft transaction: all or nothing.
 */
export function tableScript(table: string, bridge: string, subnets: readonly Subnet[], claims: readonly HostPortClaim[]): string {
  const t = `inet ${table}`;
  const out: string[] = [`add table ${t}`];
  const maps: Array<[MapName, string]> = [
    ['hp4', 'inet_proto . inet_service : ipv4_addr . inet_service'],
    ['hp4ip', 'ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service'],
    ['hp6', 'inet_proto . inet_service : ipv6_addr . inet_service'],
    ['hp6ip', 'ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service'],
  ];
  for (const [name, type] of maps) out.push(`add map ${t} ${name} { type ${type}; }`);
  out.push(`add chain ${t} hostports`);
  out.push(`add chain ${t} prerouting { type nat hook prerouting priority -100; policy accept; }`);
  out.push(`add chain ${t} output { type nat hook output priority -100; policy accept; }`);
  out.push(`add chain ${t} postrouting { type nat hook postrouting priority 100; policy accept; }`);
  // Before the node's own filter chains (priority 0), so the guard holds whatever they say.
  out.push(`add chain ${t} input { type filter hook input priority -1; policy accept; }`);
  for (const c of ['hostports', 'prerouting', 'output', 'postrouting', 'input']) out.push(`flush chain ${t} ${c}`);
  for (const [name] of maps) out.push(`flush map ${t} ${name}`);

  out.push(`add rule ${t} hostports meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @hp4ip`);
  out.push(`add rule ${t} hostports meta nfproto ipv4 dnat ip to meta l4proto . th dport map @hp4`);
  out.push(`add rule ${t} hostports meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @hp6ip`);
  out.push(`add rule ${t} hostports meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @hp6`);
  out.push(`add rule ${t} prerouting fib daddr type local jump hostports`);
  out.push(`add rule ${t} output fib daddr type local jump hostports`);

  const br = JSON.stringify(bridge);
  // route_localnet on the bridge (hostPorts from localhost need it) also lets a pod's crafted
  // packet to 127.0.0.1 in, to services that trust loopback (CVE-2020-8558; kubelet adds the
  // same guard, but a node may run nori without it). Only replies to connections the host
  // opened come from the bridge to a loopback address.
  out.push(`add rule ${t} input iifname ${br} ip daddr 127.0.0.0/8 ct state != { established, related } counter drop`);
  const v4 = subnets.filter((s) => s.family === 4).map((s) => s.cidr);
  const v6 = subnets.filter((s) => s.family === 6).map((s) => s.cidr);
  // A hostPort reached from localhost (route_localnet lets 127.0.0.1 leave through the bridge)
  // or by a pod (hairpin): the reply must come back through the host, so the source becomes
  // the bridge's address.
  out.push(`add rule ${t} postrouting ct status dnat oifname ${br} ip saddr { ${['127.0.0.0/8', ...v4].join(', ')} } masquerade`);
  if (v6.length > 0) out.push(`add rule ${t} postrouting ct status dnat oifname ${br} ip6 saddr { ${v6.join(', ')} } masquerade`);
  for (const s of v4) out.push(`add rule ${t} postrouting ip saddr ${s} ip daddr != { ${s}, 224.0.0.0/4 } masquerade`);
  for (const s of v6) out.push(`add rule ${t} postrouting ip6 saddr ${s} ip6 daddr != { ${s}, ff00::/8 } masquerade`);
  return out.join('\n') + '\n' + addClaimsScript(table, claims);
}

export function deleteTableScript(table: string): string {
  return `delete table inet ${table}\n`;
}
