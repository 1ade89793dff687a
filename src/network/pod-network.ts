// The pod network a sandbox uses: CNI or the built-in bridge, chosen by --network.
//   cni      the CNI conf dir's default network, as before;
//   builtin  the built-in bridge network (src/network/bridge);
//   auto     CNI when the conf dir holds a valid network config, else built-in — decided at each
//            ADD, so a conflist a cluster's network add-on installs later wins for new pods.
// DEL goes to what the ADD used: the built-in network when the store holds a lease or claim of
// the sandbox, CNI when its result cache has an entry (or when CNI is the choice now).

import type { NetworkMode } from '../config';
import type { ReadinessCheck } from '../health';
import type { BridgeNetwork } from './bridge/bridge-network';
import type { AddOutcome, CallOptions, CniNetwork, DelOutcome } from './cni-network';
import type { RuntimeConf } from './cni-types';
import type { NetworkObserver } from './observe';

export type { NetworkObserver } from './observe';

export class PodNetwork {
  constructor(
    readonly mode: NetworkMode,
    readonly cni: CniNetwork,
    readonly builtin: BridgeNetwork,
  ) {}

  /** Told the duration and outcome of each ADD and DEL, on either network (metrics). */
  set observer(fn: NetworkObserver | undefined) {
    this.cni.observer = fn;
    this.builtin.observer = fn;
  }

  /** Which network new pods get now. */
  async choice(): Promise<'cni' | 'builtin'> {
    if (this.mode !== 'auto') return this.mode;
    return (await this.cni.load()).network ? 'cni' : 'builtin';
  }

  async add(rt: RuntimeConf, opts: CallOptions = {}): Promise<AddOutcome> {
    return (await this.choice()) === 'cni' ? this.cni.add(rt, opts) : this.builtin.add(rt);
  }

  async del(rt: RuntimeConf, opts: CallOptions = {}): Promise<DelOutcome> {
    const torn: Array<DelOutcome['torn'][number]> = [];
    if (this.builtin.hasAttachment(rt.containerId)) torn.push(...(await this.builtin.del(rt)).torn);
    const cached = (await this.cni.cachedAttachments(rt.containerId)).length > 0;
    if (cached || (torn.length === 0 && (await this.choice()) === 'cni')) torn.push(...(await this.cni.del(rt, opts)).torn);
    // built-in, never attached (or released already): the veth may still be there after a crash
    if (torn.length === 0) torn.push(...(await this.builtin.del(rt)).torn);
    return { torn };
  }

  /** Whether a sandbox holds network state on either network (the orphan sweep asks). */
  async hasAttachment(sandboxId: string): Promise<boolean> {
    return this.builtin.hasAttachment(sandboxId) || (await this.cni.cachedAttachments(sandboxId)).length > 0;
  }

  /** Sandbox ids holding network state: CNI cache entries and built-in leases. */
  async attachedIds(): Promise<string[]> {
    const ids = new Set(this.builtin.attachedIds());
    for (const a of await this.cni.cachedAttachments().catch(() => [])) ids.add(a.containerId);
    return [...ids];
  }

  /**
   * NetworkReady: with CNI, a loadable network config (no plugin is run: kubelet polls Status);
   * with the built-in network, its bridge and table are set up.
   */
  async status(): Promise<ReadinessCheck> {
    if (this.mode !== 'builtin') {
      const loaded = await this.cni.load();
      if (loaded.network) return { ready: true, reason: '', message: '' };
      if (this.mode === 'cni') return { ready: false, reason: 'NetworkPluginNotReady', message: `cni config not loaded: ${loaded.reason}` };
    }
    return this.builtin.status();
  }
}
