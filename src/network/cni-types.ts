// Shapes shared by the CNI modules: network configs as loaded from the conf dir, the runtime
// arguments of one attachment, and parsed plugin results.

/** One plugin entry of a conflist, with its JSON kept whole so unknown keys reach the plugin. */
export interface PluginConfig {
  readonly type: string;
  /** Capabilities the plugin declares as supported (`capabilities: {portMappings: true}`). */
  readonly capabilities: ReadonlySet<string>;
  readonly conf: Readonly<Record<string, unknown>>;
}

/** A network: a conflist, or a single .conf/.json wrapped into a one-plugin list. */
export interface NetworkConfigList {
  readonly name: string;
  /** "" when the file declares none (libcni then treats it as 0.1.0). */
  readonly cniVersion: string;
  readonly disableCheck: boolean;
  readonly disableGC: boolean;
  readonly loadOnlyInlinedPlugins: boolean;
  readonly plugins: readonly PluginConfig[];
  /** The bytes libcni caches for DEL: the file for a conflist, the wrapped list for a .conf. */
  readonly bytes: Buffer;
  /** The file it came from; "" when built from bytes (e.g. a cached config). */
  readonly file: string;
}

/** A `runtimeConfig.portMappings` entry, as the portmap plugin reads it. */
export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP: string;
}

/** A `runtimeConfig.bandwidth` entry, as the bandwidth plugin reads it (bits per second). */
export interface CniBandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** A `runtimeConfig.dns` entry. */
export interface CniDnsCapability {
  servers?: string[];
  searches?: string[];
  options?: string[];
}

/** Capability arguments; only those a plugin declares reach it, under `runtimeConfig`. */
export interface CniCapabilityArgs {
  portMappings?: CniPortMapping[];
  bandwidth?: CniBandwidth;
  ipRanges?: Array<Array<{ subnet: string; rangeStart?: string; rangeEnd?: string; gateway?: string }>>;
  dns?: CniDnsCapability;
  [capability: string]: unknown;
}

/** libcni's RuntimeConf: the per-attachment half of an invocation. */
export interface RuntimeConf {
  readonly containerId: string;
  /** Path of the network namespace ("" allowed for DEL: the spec makes CNI_NETNS optional there). */
  readonly netns: string;
  readonly ifName: string;
  /** CNI_ARGS pairs, in order. */
  readonly args: ReadonlyArray<readonly [string, string]>;
  readonly capabilityArgs: Readonly<CniCapabilityArgs>;
}

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface CniIPConfig {
  /** CIDR, e.g. "10.89.0.5/16". */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  [key: string]: unknown;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A plugin result, normalized from any of the 0.1.0 … 1.1.0 formats. */
export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces: readonly CniInterface[];
  readonly ips: readonly CniIPConfig[];
  readonly routes: readonly CniRoute[];
  readonly dns: CniDns;
  /** The plugin's JSON (cniVersion filled in when it had none): passed on as prevResult and cached. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';
