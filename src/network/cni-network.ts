// The pod network as a sandbox sees it: the default network of a CNI conf dir (re-read on every
// call, so a conflist a network provider installs later is picked up without a restart), ADD /
// DEL / CHECK for one attachment, NetworkReady status, and libcni's result cache so DEL works
// after a daemon restart and with the config the ADD used, even if the conf dir changed since.
//
// A failed ADD is not undone here (libcni does not either): the caller rolls back with DEL,
// which every plugin must accept for a half-made attachment.

import { promises as fs } from 'node:fs';
import { errorMessage } from '../errors';
import { CniResultCache, type CachedAttachment } from './cni-cache';
import { DEFAULT_CNI_BIN_DIRS, DEFAULT_CNI_CONF_DIR, loadDefaultNetwork, parseNetworkConfList, type NetworkLoadResult } from './cni-config';
import { CniNotReadyError } from './cni-errors';
import { DEFAULT_EXEC_TIMEOUT_MS } from './cni-exec';
import { addNetworkList, checkNetworkList, delNetworkList, statusNetworkList, type InvokeOptions } from './cni-invoke';
import { convertCniResult, parseCniResult } from './cni-result';
import type { CniResult, NetworkConfigList, RuntimeConf } from './cni-types';
import { observeNetworkOp, type NetworkObserver } from './observe';
import { KeyedLock } from '../util/keyed_lock';

export interface CniNetworkOptions {
  readonly confDir?: string;
  /** Searched in order for plugin binaries; also CNI_PATH. */
  readonly binDirs?: readonly string[];
  /** Where results are cached (`<cacheDir>/results/...`); the caller picks a dir that outlives restarts. */
  readonly cacheDir: string;
  /** Per plugin exec (default 60 s, 0 = none); the plugin's process group is killed when it runs out. */
  readonly execTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly onStderr?: InvokeOptions['onStderr'];
}

export interface CallOptions {
  readonly signal?: AbortSignal;
}

export interface NetworkStatus {
  readonly ready: boolean;
  /** "NetworkPluginNotReady" when not ready (the reason kubelet and containerd use), else "". */
  readonly reason: string;
  readonly message: string;
  readonly network: NetworkConfigList | null;
}

export interface AddOutcome {
  readonly networkName: string;
  readonly result: CniResult;
}

export interface DelOutcome {
  /** What was torn down: from a cache entry (the ADD's config) or from the current config. */
  readonly torn: ReadonlyArray<{ readonly networkName: string; readonly source: 'cache' | 'config' }>;
}

export const NETWORK_NOT_READY_REASON = 'NetworkPluginNotReady';

export class CniNetwork {
  readonly confDir: string;
  readonly binDirs: readonly string[];
  readonly cache: CniResultCache;
  readonly execTimeoutMs: number;
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly onStderr: InvokeOptions['onStderr'];
  /** One operation at a time per attachment: ADD racing DEL would leak or double-release. */
  private readonly locks = new KeyedLock();
  /** Told the duration and outcome of each ADD and DEL (the daemon's metrics set it). */
  observer?: NetworkObserver;

  constructor(opts: CniNetworkOptions) {
    this.confDir = opts.confDir ?? DEFAULT_CNI_CONF_DIR;
    this.binDirs = opts.binDirs ?? DEFAULT_CNI_BIN_DIRS;
    this.cache = new CniResultCache(opts.cacheDir);
    this.execTimeoutMs = opts.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    this.env = opts.env;
    this.onStderr = opts.onStderr;
  }

  /** The default network now (first valid file; files naming missing plugins are skipped). */
  load(): Promise<NetworkLoadResult> {
    return loadDefaultNetwork(this.confDir, { binDirs: this.binDirs });
  }

  /** NetworkReady: a valid network exists and (for 1.1.0+ configs) its plugins answer STATUS. */
  async status(opts: CallOptions = {}): Promise<NetworkStatus> {
    const loaded = await this.load();
    if (!loaded.network) {
      return { ready: false, reason: NETWORK_NOT_READY_REASON, message: `Network plugin returns error: cni config load failed: ${loaded.reason}`, network: null };
    }
    try {
      await statusNetworkList(loaded.network, this.invokeOptions(opts));
    } catch (e) {
      return { ready: false, reason: NETWORK_NOT_READY_REASON, message: `Network plugin returns error: ${errorMessage(e)}`, network: loaded.network };
    }
    return { ready: true, reason: '', message: '', network: loaded.network };
  }

  /** ADD on the default network; the result is cached for DEL and CHECK. */
  add(rt: RuntimeConf, opts: CallOptions = {}): Promise<AddOutcome> {
    return observeNetworkOp(this, 'ADD', () => this.serialize(rt, async () => {
      const network = await this.requireNetwork();
      const result = await addNetworkList(network, rt, this.invokeOptions(opts));
      await this.cache.write({
        containerId: rt.containerId,
        ifName: rt.ifName,
        networkName: network.name,
        config: network.bytes,
        netns: rt.netns,
        cniArgs: rt.args,
        capabilityArgs: rt.capabilityArgs,
        result: result.raw,
      });
      return { networkName: network.name, result };
    }));
  }

  /**
   * DEL for every cached attachment of (containerId, ifName), each with the config, CNI_ARGS and
   * capability args its ADD used; without a cache entry, DEL on the current default network.
   * A netns path that is gone (or no longer a namespace) is passed as "" — the spec makes
   * CNI_NETNS optional for DEL and plugins still release what they hold (IP leases, rules).
   * Safe to repeat: plugins must accept DEL of something already deleted.
   */
  del(rt: RuntimeConf, opts: CallOptions = {}): Promise<DelOutcome> {
    return observeNetworkOp(this, 'DEL', () => this.serialize(rt, async () => {
      const netns = (await isNetnsPath(rt.netns)) ? rt.netns : '';
      const base: RuntimeConf = { ...rt, netns };
      const invoke = this.invokeOptions(opts);
      const torn: Array<{ networkName: string; source: 'cache' | 'config' }> = [];
      const entries = (await this.cache.list(rt.containerId)).filter((e) => e.ifName === rt.ifName);
      const unusable: CachedAttachment[] = [];
      for (const entry of entries) {
        const cached = fromCache(entry);
        if (!cached) {
          unusable.push(entry);
          continue;
        }
        await delNetworkList(cached.network, { ...base, args: entry.cniArgs ?? rt.args, capabilityArgs: entry.capabilityArgs ?? {} }, cached.prevResult, invoke);
        await this.cache.remove(entry.networkName, rt.containerId, rt.ifName);
        torn.push({ networkName: entry.networkName, source: 'cache' });
      }
      if (torn.length > 0) return { torn };
      const network = await this.requireNetwork();
      await delNetworkList(network, base, null, invoke);
      // Entries that could not be used (unreadable, or a config that no longer parses) must not
      // outlive the DEL, or every later DEL would trip over them again.
      await this.cache.remove(network.name, rt.containerId, rt.ifName);
      for (const e of unusable) await this.cache.remove(e.networkName, rt.containerId, rt.ifName);
      return { torn: [{ networkName: network.name, source: 'config' }] };
    }));
  }

  /** CHECK on the default network against the cached ADD result (0.4.0+ configs only). */
  check(rt: RuntimeConf, opts: CallOptions = {}): Promise<void> {
    return this.serialize(rt, async () => {
      const network = await this.requireNetwork();
      const entry = await this.cache.read(network.name, rt.containerId, rt.ifName).catch(() => null);
      const prev = entry?.result ? convertOrNull(entry.result, network.cniVersion) : null;
      await checkNetworkList(network, rt, prev, this.invokeOptions(opts));
    });
  }

  /** The cached ADD result of an attachment (first network found), e.g. for status after a restart. */
  async cachedResult(containerId: string, ifName = 'eth0'): Promise<AddOutcome | null> {
    for (const entry of await this.cache.list(containerId)) {
      if (entry.ifName !== ifName || !entry.result) continue;
      try {
        return { networkName: entry.networkName, result: parseCniResult(entry.result, '') };
      } catch {
        // a result we cannot read is as good as none
      }
    }
    return null;
  }

  /** Cached attachments (all, or one container's): what a restart or GC must tear down. */
  cachedAttachments(containerId?: string): Promise<CachedAttachment[]> {
    return this.cache.list(containerId);
  }

  private async requireNetwork(): Promise<NetworkConfigList> {
    const loaded = await this.load();
    if (!loaded.network) throw new CniNotReadyError(this.confDir, loaded.reason);
    return loaded.network;
  }

  private invokeOptions(opts: CallOptions): InvokeOptions {
    return { binDirs: this.binDirs, timeoutMs: this.execTimeoutMs, signal: opts.signal, env: this.env, onStderr: this.onStderr };
  }

  private serialize<T>(rt: RuntimeConf, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(`${rt.containerId}\0${rt.ifName}`, fn);
  }
}

// libcni DelNetworkList: a cached result that cannot be read or converted is dropped, not fatal.
function fromCache(entry: CachedAttachment): { network: NetworkConfigList; prevResult: CniResult | null } | null {
  let network: NetworkConfigList;
  try {
    network = parseNetworkConfList(entry.config);
  } catch {
    return null;
  }
  return { network, prevResult: entry.result ? convertOrNull(entry.result, network.cniVersion) : null };
}

function convertOrNull(raw: Readonly<Record<string, unknown>>, toVersion: string): CniResult | null {
  try {
    return convertCniResult(parseCniResult({ ...raw }, toVersion), toVersion);
  } catch {
    return null;
  }
}

const NSFS_MAGIC = 0x6e736673;
const PROC_SUPER_MAGIC = 0x9fa0;

/** True when the path is a namespace file: a bind-mounted nsfs pin or a /proc/<pid>/ns link. */
export async function isNetnsPath(p: string): Promise<boolean> {
  if (p === '') return false;
  try {
    const st = await fs.statfs(p);
    return st.type === NSFS_MAGIC || st.type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}
