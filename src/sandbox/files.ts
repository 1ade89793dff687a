// /etc/hosts, /etc/resolv.conf and /etc/hostname of a pod, written into its sandbox dir and
// bind-mounted into each container by the container subsystem.

import { readFileSync, writeFileSync } from 'node:fs';
import type { DNSConfig } from '../gen/api';

const LOCALHOST = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'fe00::0\tip6-mcastprefix',
  'fe00::1\tip6-allnodes',
  'fe00::2\tip6-allrouters',
];

/** The pod network's hosts file: localhost entries, then each pod IP with the hostname. */
export function hostsFile(hostname: string, ips: readonly string[]): string {
  const lines = ['# Kubernetes-managed hosts file (nori).', ...LOCALHOST];
  for (const ip of ips) if (ip !== '') lines.push(`${ip}\t${hostname}`);
  return lines.join('\n') + '\n';
}

/** resolv.conf from DNSConfig; null when it says nothing (use the host's). */
export function resolvConfFrom(dns: DNSConfig | undefined): string | null {
  if (!dns || (dns.servers.length === 0 && dns.searches.length === 0 && dns.options.length === 0)) return null;
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

export function hostFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    return Buffer.alloc(0);
  }
}

/**
 * One of these files, written while the pod is CREATING: a plain write, no temporary file and
 * no fsync (see RunPodSandbox: no reader exists yet, and a crash rolls the pod back).
 */
export function writePodFile(path: string, data: string | Buffer): void {
  writeFileSync(path, data, { mode: 0o644 });
}
