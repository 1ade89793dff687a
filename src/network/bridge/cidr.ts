// Address arithmetic for the built-in network: subnets as (family, base, bits) with the
// address as a bigint, so IPv4 and IPv6 share one code path.

import { isIP, SocketAddress } from 'node:net';

export interface Subnet {
  readonly family: 4 | 6;
  /** The network address. */
  readonly base: bigint;
  readonly bits: number;
  /** As written back: "10.89.0.0/16". */
  readonly cidr: string;
}

const WIDTH = { 4: 32, 6: 128 } as const;

export function addressToBigInt(ip: string): bigint {
  const family = isIP(ip);
  if (family === 4) return ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  if (family === 6) {
    const full = expand6(ip);
    return full.reduce((acc, h) => (acc << 16n) | BigInt(parseInt(h, 16)), 0n);
  }
  throw new Error(`"${ip}" is not an IP address`);
}

function expand6(ip: string): string[] {
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = addressToBigInt(v4[1]!);
    s = s.slice(0, -v4[1]!.length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  if (tail === undefined) return h;
  const t = tail === '' ? [] : tail.split(':');
  return [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
}

export function bigIntToAddress(n: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => ((n >> s) & 0xffn).toString()).join('.');
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Node's canonical form (compressed zeros, lower case)
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** Canonical text of an address (so "fd00:0::5" and "fd00::5" are one lease). */
export function canonicalAddress(ip: string): string {
  const family = isIP(ip);
  if (family === 0) throw new Error(`"${ip}" is not an IP address`);
  return bigIntToAddress(addressToBigInt(ip), family as 4 | 6);
}

/** "10.89.3.7/16" → the subnet 10.89.0.0/16 (host bits cleared). */
export function parseSubnet(cidr: string): Subnet {
  const m = /^(.+)\/(\d{1,3})$/.exec(cidr.trim());
  const family = m ? isIP(m[1]!) : 0;
  if (!m || family === 0) throw new Error(`"${cidr}" is not a CIDR`);
  const f = family as 4 | 6;
  const bits = Number(m[2]);
  if (bits > WIDTH[f]) throw new Error(`"${cidr}" has a prefix longer than ${WIDTH[f]}`);
  const hostBits = BigInt(WIDTH[f] - bits);
  const base = (addressToBigInt(m[1]!) >> hostBits) << hostBits;
  return { family: f, base, bits, cidr: `${bigIntToAddress(base, f)}/${bits}` };
}

/** "CIDR[,CIDR6]" → subnets, IPv4 first. */
export function parseSubnets(list: string): Subnet[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseSubnet)
    .sort((a, b) => a.family - b.family);
}

export function size(s: Subnet): bigint {
  return 1n << BigInt(WIDTH[s.family] - s.bits);
}

export function contains(s: Subnet, ip: string): boolean {
  if (isIP(ip) !== s.family) return false;
  const n = addressToBigInt(ip);
  return n >= s.base && n < s.base + size(s);
}

/** The bridge's address: the first host address, as the bridge plugin's isGateway picks it. */
export function gatewayOf(s: Subnet): string {
  return bigIntToAddress(s.base + 1n, s.family);
}

/**
 * Pod addresses, in host-local's order: from the one after the gateway to the last below the
 * broadcast address (IPv4) or the last address (IPv6).
 */
export function podRange(s: Subnet): { first: bigint; last: bigint } {
  const end = s.base + size(s) - 1n;
  return { first: s.base + 2n, last: s.family === 4 ? end - 1n : end };
}
