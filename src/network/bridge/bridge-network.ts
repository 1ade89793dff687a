// The built-in pod network: the docker0 model, in-process. A Linux bridge whose address is
// each subnet's gateway, a veth pair per pod (the pod end created straight inside the pinned
// netns as eth0), addresses from an IPAM in nori's store, a default route via the bridge,
// hairpin on the bridge port, and nftables NAT (one masquerade rule per subnet, hostPorts as
// map elements). No process starts, for ADD or DEL: netlink and libnftables from the addon.
//
// The store is the record of what a pod holds (leases, hostPort claims): written before the
// kernel work, released after it, so a crash at any step leaves rows that DEL (at rollback,
// Stop, or the start-up sweep) releases again. Every step of DEL accepts "already gone".

import { isIP } from 'node:net';
import { AlreadyExistsError, errorMessage } from '../../errors';
import { DEFAULT_POD_CIDR } from '../../config';
import { faultPoint } from '../../fault';
import type { ReadinessCheck } from '../../health';
import type { Db } from '../../store/db';
import { KvStore } from '../../store/kv';
import { LeaseStore, type HostPortClaim, type Lease } from '../../store/lease_store';
import type { NetSys } from '../../sys/net';
import { KeyedLock } from '../../util/keyed_lock';
import type { AddOutcome, DelOutcome } from '../cni-network';
import type { CniResult, RuntimeConf } from '../cni-types';
import { observeNetworkOp, type NetworkObserver } from '../observe';
import { addressToBigInt, canonicalAddress, gatewayOf, parseSubnet, parseSubnets, type Subnet } from './cidr';
import { nextFreeAddress, rememberLast } from './ipam';
import { addClaimsScript, deleteClaimCommands, tableName, tableScript } from './nft-rules';

/** Where UpdateRuntimeConfig keeps the node's pod CIDR (src/cri/deps.ts POD_CIDR_KEY). */
const POD_CIDR_KV_KEY = 'pod_cidr';

export const BUILTIN_NETWORK_NAME = 'nori-builtin';

export interface BridgeNetworkOptions {
  bridge: string;
  /** --pod-cidr; "" = UpdateRuntimeConfig's pod CIDR, else DEFAULT_POD_CIDR. */
  podCidr: string;
  db: Db;
  net: NetSys;
}

/** The host end of a sandbox's veth: derived from its id, so teardown needs no other record. */
export function vethName(sandboxId: string): string {
  return `veth${sandboxId.slice(0, 11)}`;
}

export class BridgeNetwork {
  readonly bridge: string;
  readonly table: string;
  private readonly podCidr: string;
  private readonly db: Db;
  private readonly net: NetSys;
  private readonly leases: LeaseStore;
  private readonly kv: KvStore;
  private readonly locks = new KeyedLock();
  /** nft transactions one at a time: a table rewrite reads the claims it re-adds. */
  private nftTail: Promise<unknown> = Promise.resolve();
  private setup: { key: string; done: Promise<void> } | undefined;
  /** Told the duration and outcome of each ADD and DEL (the daemon's metrics set it). */
  observer?: NetworkObserver;

  constructor(o: BridgeNetworkOptions) {
    this.bridge = o.bridge;
    this.table = tableName(o.bridge);
    this.podCidr = o.podCidr;
    this.db = o.db;
    this.net = o.net;
    this.leases = new LeaseStore(o.db);
    this.kv = new KvStore(o.db);
  }

  /** The subnets pods get addresses from now: --pod-cidr, else UpdateRuntimeConfig's, else the default. */
  subnets(): Subnet[] {
    return parseSubnets(this.podCidr || this.kv.get(POD_CIDR_KV_KEY) || DEFAULT_POD_CIDR);
  }

  /**
   * Bridge, forwarding, route_localnet and the nft table, once per set of subnets (again after
   * a failure, or when UpdateRuntimeConfig brings a new pod CIDR).
   */
  ensure(): Promise<void> {
    const subnets = this.subnets();
    const key = subnets.map((s) => s.cidr).join(',');
    if (this.setup?.key === key) return this.setup.done;
    const done = this.doSetup(subnets);
    this.setup = { key, done };
    done.catch(() => {
      if (this.setup?.done === done) this.setup = undefined;
    });
    return done;
  }

  private async doSetup(subnets: Subnet[]): Promise<void> {
    await this.net.writeSysctl('net/ipv4/ip_forward', '1');
    if (subnets.some((s) => s.family === 6)) await this.net.writeSysctl('net/ipv6/conf/all/forwarding', '1');
    await this.net.ensureBridge(this.bridge, subnets.map((s) => `${gatewayOf(s)}/${s.bits}`));
    // Lets DNATed connections from 127.0.0.1 leave through the bridge (portmap does the same).
    await this.net.writeSysctl(`net/ipv4/conf/${this.bridge}/route_localnet`, '1');
    await this.nft(() => tableScript(this.table, this.bridge, this.allSubnets(subnets), this.leases.claims()));
  }

  /** Current subnets plus those existing leases came from: their pods keep their masquerade. */
  private allSubnets(current: Subnet[]): Subnet[] {
    const seen = new Map(current.map((s) => [s.cidr, s]));
    for (const cidr of this.leases.subnets()) if (!seen.has(cidr)) seen.set(cidr, parseSubnet(cidr));
    return [...seen.values()].sort((a, b) => a.family - b.family);
  }

  private nft(script: () => string): Promise<string> {
    const run = this.nftTail.then(() => this.net.nft(script()));
    this.nftTail = run.catch(() => undefined);
    return run;
  }

  async status(): Promise<ReadinessCheck> {
    try {
      await this.ensure();
      return { ready: true, reason: '', message: '' };
    } catch (e) {
      return { ready: false, reason: 'NetworkPluginNotReady', message: `built-in network (bridge ${this.bridge}) cannot be set up: ${errorMessage(e)}` };
    }
  }

  /** Sandbox ids holding leases or hostPort claims (what the orphan sweep must release). */
  attachedIds(): string[] {
    return this.leases.sandboxIds();
  }

  hasAttachment(sandboxId: string): boolean {
    return this.leases.bySandbox(sandboxId).length > 0 || this.leases.claims(sandboxId).length > 0;
  }

  add(rt: RuntimeConf): Promise<AddOutcome> {
    return observeNetworkOp(this, 'ADD', () => this.locks.run(rt.containerId, () => this.addLocked(rt)));
  }

  private async addLocked(rt: RuntimeConf): Promise<AddOutcome> {
    await this.ensure();
    const subnets = this.subnets();
    const id = rt.containerId;
    const leases = this.allocate(id, subnets, rt);
    faultPoint('run-pod.after-net-lease');
    const byFamily = new Map(leases.map((l) => [parseSubnet(l.subnet).family, l]));
    const hostIf = vethName(id);
    await this.net.attachPod({
      netns: rt.netns,
      hostIf,
      podIf: rt.ifName,
      bridge: this.bridge,
      addresses: leases.map((l) => `${l.ip}/${parseSubnet(l.subnet).bits}`),
      gateways: leases.map((l) => gatewayOf(parseSubnet(l.subnet))),
    });
    faultPoint('run-pod.after-net-veth');
    const claims = this.leases.claims(id);
    if (claims.length > 0) await this.nft(() => addClaimsScript(this.table, claims));
    return { networkName: BUILTIN_NETWORK_NAME, result: this.result(rt, hostIf, [...byFamily.values()]) };
  }

  /** Leases (one per subnet) and hostPort claims, recorded in one transaction. */
  private allocate(id: string, subnets: Subnet[], rt: RuntimeConf): Lease[] {
    return this.db.transaction(() => {
      const held = this.leases.bySandbox(id);
      if (held.length > 0) return held; // an ADD repeated after a crash: keep what it has
      const leases: Lease[] = subnets.map((s) => {
        const ip = nextFreeAddress(s, this.leases, this.kv);
        rememberLast(s, addressToBigInt(ip), this.kv);
        return { ip, sandboxId: id, subnet: s.cidr };
      });
      const claims = this.claimsFor(id, rt, leases);
      this.leases.insert(leases, claims);
      return leases;
    })();
  }

  private claimsFor(id: string, rt: RuntimeConf, leases: Lease[]): HostPortClaim[] {
    const out: HostPortClaim[] = [];
    for (const pm of rt.capabilityArgs.portMappings ?? []) {
      const hostIp = pm.hostIP && pm.hostIP !== '0.0.0.0' && pm.hostIP !== '::' ? canonicalAddress(pm.hostIP) : '';
      for (const l of leases) {
        const family = parseSubnet(l.subnet).family;
        // A mapping bound to one address goes to the pod address of that family only;
        // 0.0.0.0 and :: mean every address of their own family, as with portmap.
        if (hostIp !== '' && isIP(hostIp) !== family) continue;
        if (pm.hostIP === '0.0.0.0' && family !== 4) continue;
        if (pm.hostIP === '::' && family !== 6) continue;
        const claim: HostPortClaim = { protocol: pm.protocol, hostIp, hostPort: pm.hostPort, family, sandboxId: id, podIp: l.ip, containerPort: pm.containerPort };
        const holder = this.leases.claimOn(claim);
        if (holder || out.some((c) => c.protocol === claim.protocol && c.hostIp === hostIp && c.hostPort === claim.hostPort && c.family === family)) {
          throw new AlreadyExistsError(`hostPort ${pm.protocol}/${pm.hostPort}${hostIp ? ` on ${hostIp}` : ''} is already used by pod sandbox ${holder?.sandboxId ?? id}`);
        }
        out.push(claim);
      }
    }
    return out;
  }

  private result(rt: RuntimeConf, hostIf: string, leases: Lease[]): CniResult {
    const ips = leases.map((l) => {
      const s = parseSubnet(l.subnet);
      return { address: `${l.ip}/${s.bits}`, gateway: gatewayOf(s), interface: 2 };
    });
    const routes = leases.map((l) => {
      const s = parseSubnet(l.subnet);
      return { dst: s.family === 4 ? '0.0.0.0/0' : '::/0', gw: gatewayOf(s) };
    });
    const interfaces = [{ name: this.bridge }, { name: hostIf }, { name: rt.ifName, sandbox: rt.netns }];
    const raw = { cniVersion: '1.0.0', interfaces, ips, routes, dns: {} };
    return { cniVersion: '1.0.0', interfaces, ips, routes, dns: {}, raw };
  }

  /** Releases hostPorts, the veth pair and the leases; works with the netns gone, and twice. */
  del(rt: RuntimeConf): Promise<DelOutcome> {
    return observeNetworkOp(this, 'DEL', () => this.locks.run(rt.containerId, () => this.delLocked(rt.containerId)));
  }

  private async delLocked(id: string): Promise<DelOutcome> {
    for (const cmd of deleteClaimCommands(this.table, this.leases.claims(id))) {
      try {
        await this.nft(() => cmd);
      } catch (e) {
        // the element (or the whole table) is gone already: what DEL wants
        if (!/No such file or directory/.test(errorMessage(e))) throw e;
      }
    }
    await this.net.deleteLink(vethName(id));
    faultPoint('stop-pod.after-net-veth-deleted');
    this.leases.release(id);
    return { torn: [{ networkName: BUILTIN_NETWORK_NAME, source: 'config' }] };
  }
}
