// IPAM of the built-in network: one address per subnet per sandbox, out of nori's store.
// Like host-local, it hands addresses out round-robin from the one after the last given, so a
// freed address is not reused at once (a late packet for the old pod does not reach a new one).

import { ResourceExhaustedError } from '../../errors';
import type { KvStore } from '../../store/kv';
import type { LeaseStore } from '../../store/lease_store';
import { bigIntToAddress, podRange, type Subnet } from './cidr';

const LAST_KEY = (s: Subnet) => `ipam_last:${s.cidr}`;

/**
 * The next free pod address of `s` after the last one handed out (not yet recorded). Candidates
 * are looked up one at a time from there (round-robin makes the first one free almost always),
 * instead of reading every lease of the subnet: with 250 pods that read was most of IPAM's
 * share of RunPodSandbox, and it grew with every pod.
 */
export function nextFreeAddress(s: Subnet, leases: Pick<LeaseStore, 'isLeased'>, kv: KvStore): string {
  const { first, last } = podRange(s);
  const span = last - first + 1n;
  const lastGiven = kv.get(LAST_KEY(s));
  let start = first;
  if (lastGiven !== undefined) {
    const n = BigInt(lastGiven);
    if (n >= first && n < last) start = n + 1n;
  }
  for (let i = 0n; i < span; i++) {
    const n = first + ((start - first + i) % span);
    const ip = bigIntToAddress(n, s.family);
    if (!leases.isLeased(ip)) return ip;
  }
  throw new ResourceExhaustedError(`no free address left in ${s.cidr}`);
}

/** Remembers the round-robin position (call in the transaction that records the lease). */
export function rememberLast(s: Subnet, ip: bigint, kv: KvStore): void {
  kv.set(LAST_KEY(s), ip.toString());
}
