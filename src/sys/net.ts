// The kernel interfaces of the built-in pod network: rtnetlink for links, addresses and routes
// (native/src/netlink.cc) and nftables through libnftables (native/src/nftables.cc), both
// in-process, no process started per pod. FakeNetSys (net_fake.ts) records calls for unit tests.

import { existsSync } from 'node:fs';
import { FailedPreconditionError } from '../errors';
import { loadAddon } from './native';

export interface AttachPodSpec {
  /** The pod's pinned netns file. */
  netns: string;
  /** The host end of the veth pair (<= 15 bytes); a stale link of this name is replaced. */
  hostIf: string;
  /** The pod end, created inside the netns (eth0). */
  podIf: string;
  /** The bridge the host end joins (hairpin on). */
  bridge: string;
  /** "ip/prefix" set on the pod end. */
  addresses: readonly string[];
  /** A default route via each (one per family). */
  gateways: readonly string[];
}

export interface NetSys {
  /** Creates the bridge when missing, (re)sets its addresses ("ip/prefix") and brings it up. */
  ensureBridge(name: string, addresses: readonly string[]): Promise<void>;
  /** veth pair, one end straight into the pod netns, enslaved, hairpin, addresses, routes. */
  attachPod(spec: AttachPodSpec): Promise<void>;
  /** Deletes a link (a veth takes its peer along); false when there was none. */
  deleteLink(name: string): Promise<boolean>;
  /** Runs an nft script as one transaction; resolves with nft's output. Errors: code ENFT / ENFTUNAVAILABLE. */
  nft(script: string): Promise<string>;
  /** Writes a file under /proc/sys of the host (ip_forward, route_localnet). */
  writeSysctl(path: string, value: string): Promise<void>;
}

interface NetAddon {
  netEnsureBridge?(name: string, addresses: string[]): Promise<void>;
  netAttachPod?(spec: { netns: string; hostIf: string; podIf: string; bridge: string; addresses: string[]; gateways: string[] }): Promise<void>;
  netDeleteLink?(name: string): Promise<number>;
  nftRun?(script: string): Promise<string>;
}

export class NativeNetSys implements NetSys {
  private fn<K extends keyof NetAddon>(name: K): NonNullable<NetAddon[K]> {
    const f = (loadAddon() as unknown as NetAddon)[name];
    if (!f) throw new FailedPreconditionError(`native addon lacks ${name} (run npm run build:native)`);
    return f as NonNullable<NetAddon[K]>;
  }

  async ensureBridge(name: string, addresses: readonly string[]): Promise<void> {
    // An existing link of that name must be a bridge: never put pod addresses on a NIC.
    if (existsSync(`/sys/class/net/${name}`) && !existsSync(`/sys/class/net/${name}/bridge`)) {
      throw new FailedPreconditionError(`--bridge ${name}: a network interface of that name exists and is not a bridge`);
    }
    await this.fn('netEnsureBridge')(name, [...addresses]);
  }

  attachPod(s: AttachPodSpec): Promise<void> {
    return this.fn('netAttachPod')({ ...s, addresses: [...s.addresses], gateways: [...s.gateways] });
  }

  async deleteLink(name: string): Promise<boolean> {
    return (await this.fn('netDeleteLink')(name)) === 1;
  }

  nft(script: string): Promise<string> {
    return this.fn('nftRun')(script);
  }

  async writeSysctl(path: string, value: string): Promise<void> {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`/proc/sys/${path}`, value);
  }
}
