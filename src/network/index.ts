// The network module's public surface: CNI (libcni semantics) for pod sandboxes.

export * from './cni-types';
export * from './cni-errors';
export { loadDefaultNetwork, loadNetworkFile, parseNetworkConfList, DEFAULT_CNI_BIN_DIRS, DEFAULT_CNI_CONF_DIR } from './cni-config';
export type { NetworkLoadResult, SkippedConfFile } from './cni-config';
export { CniNetwork, NETWORK_NOT_READY_REASON, isNetnsPath } from './cni-network';
export type { CniNetworkOptions, NetworkStatus, AddOutcome, DelOutcome, CallOptions } from './cni-network';
export { CniResultCache } from './cni-cache';
export type { CachedAttachment } from './cni-cache';
export { parseCniResult, convertCniResult } from './cni-result';
export { podIPsFromResult } from './pod-ips';
export type { PodIPs } from './pod-ips';
export { podRuntimeConf, toCniPortMappings, toCniDns, DEFAULT_POD_IFNAME } from './pod-runtime-conf';
export type { PodNetworkSpec, CriPortMapping } from './pod-runtime-conf';
export { bandwidthFromAnnotations } from './bandwidth';
