// The pod's IPs from a CNI result, as PodSandboxStatus reports them: `ip` is the first IPv4
// (else the first address) and `additional_ips` the rest in result order — containerd's
// selectPodIPs with its default "ipv4" preference.

import { isIP } from 'node:net';
import { ipOfCidr } from './cni-result';
import type { CniResult } from './cni-types';

export interface PodIPs {
  /** "" when the result has no IPs (e.g. a plugin chain that only sets up routes). */
  readonly ip: string;
  readonly additionalIps: readonly string[];
}

/**
 * Addresses assigned to the sandbox interface `ifName`: IPs whose `interface` index names it.
 * When no IP is tied to it (results from plugins that leave `interface` out), all IPs count.
 */
export function podIPsFromResult(result: CniResult, ifName = 'eth0'): PodIPs {
  const onIf = result.ips.filter((ip) => {
    if (ip.interface === undefined) return false;
    const intf = result.interfaces[ip.interface];
    return intf !== undefined && intf.name === ifName && (intf.sandbox ?? '') !== '';
  });
  const chosen = onIf.length > 0 ? onIf : result.ips;
  const ips = [...new Set(chosen.map((c) => ipOfCidr(c.address)))];
  if (ips.length === 0) return { ip: '', additionalIps: [] };
  const v4 = ips.findIndex((ip) => isIP(ip) === 4);
  const primary = v4 >= 0 ? v4 : 0;
  return { ip: ips[primary]!, additionalIps: ips.filter((_, i) => i !== primary) };
}
