// The RuntimeConf of a pod sandbox's attachment: the CNI_ARGS kubelet-era runtimes pass
// (IgnoreUnknown first so plugins that parse CNI_ARGS strictly accept the K8S_* keys, as CRI-O
// does) and capability args converted from CRI the way containerd converts them.

import type { CniBandwidth, CniCapabilityArgs, CniDnsCapability, CniPortMapping, RuntimeConf } from './cni-types';

export const DEFAULT_POD_IFNAME = 'eth0';

/** A CRI PortMapping; `protocol` is the CRI enum (0 TCP, 1 UDP, 2 SCTP) or its name. */
export interface CriPortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol?: number | string;
  readonly hostIp?: string;
}

export interface PodNetworkSpec {
  readonly sandboxId: string;
  readonly netns: string;
  readonly podName: string;
  readonly podNamespace: string;
  readonly podUid: string;
  readonly ifName?: string;
  readonly portMappings?: readonly CriPortMapping[];
  readonly bandwidth?: CniBandwidth | null;
  readonly dns?: CniDnsCapability | null;
  readonly ipRanges?: CniCapabilityArgs['ipRanges'];
}

export function podRuntimeConf(spec: PodNetworkSpec): RuntimeConf {
  const capabilityArgs: CniCapabilityArgs = {};
  const portMappings = toCniPortMappings(spec.portMappings ?? []);
  if (portMappings.length > 0) capabilityArgs.portMappings = portMappings;
  if (spec.bandwidth) capabilityArgs.bandwidth = spec.bandwidth;
  if (spec.dns) capabilityArgs.dns = spec.dns;
  if (spec.ipRanges && spec.ipRanges.length > 0) capabilityArgs.ipRanges = spec.ipRanges;
  return {
    containerId: spec.sandboxId,
    netns: spec.netns,
    ifName: spec.ifName ?? DEFAULT_POD_IFNAME,
    args: [
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', spec.podNamespace],
      ['K8S_POD_NAME', spec.podName],
      ['K8S_POD_INFRA_CONTAINER_ID', spec.sandboxId],
      ['K8S_POD_UID', spec.podUid],
    ],
    capabilityArgs,
  };
}

/** Only mappings with a host port are forwarded (containerd skips hostPort <= 0). */
export function toCniPortMappings(mappings: readonly CriPortMapping[]): CniPortMapping[] {
  return mappings
    .filter((m) => m.hostPort > 0)
    .map((m) => ({
      hostPort: m.hostPort,
      containerPort: m.containerPort,
      protocol: cniProtocol(m.protocol),
      hostIP: m.hostIp ?? '',
    }));
}

/** CRI DNSConfig to the `dns` capability. */
export function toCniDns(dns: { servers?: readonly string[]; searches?: readonly string[]; options?: readonly string[] } | null | undefined): CniDnsCapability | null {
  if (!dns) return null;
  return { servers: [...(dns.servers ?? [])], searches: [...(dns.searches ?? [])], options: [...(dns.options ?? [])] };
}

function cniProtocol(p: number | string | undefined): CniPortMapping['protocol'] {
  if (p === 1 || (typeof p === 'string' && p.toLowerCase() === 'udp')) return 'udp';
  if (p === 2 || (typeof p === 'string' && p.toLowerCase() === 'sctp')) return 'sctp';
  return 'tcp';
}
