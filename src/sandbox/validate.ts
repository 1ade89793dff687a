// RunPodSandbox's request → the sandbox's plan, with every refusal an InvalidArgument naming the
// field. Nothing here touches the system.

import type { Config } from '../config';
import { InvalidArgumentError } from '../errors';
import { NamespaceMode, type PodSandboxConfig, type RunPodSandboxRequest } from '../gen/api';
import { sysctlNamespace, sysctlPath } from '../sys/validate';
import type { SysctlList } from '../sys/types';
import { toCgroupfsPath } from '../cgroups/names';
import { planUserns, type PodUserns } from './userns';

export interface SandboxPlan {
  config: PodSandboxConfig;
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  requestedHandler: string;
  handler: string;
  hostNetwork: boolean;
  hostIpc: boolean;
  /** NamespaceMode of pid: POD gets a shared pid namespace with an init. */
  pid: NamespaceMode;
  hostname: string;
  /** Sorted (net first, then ipc), as /proc/sys paths. */
  sysctls: SysctlList;
  /** cgroupfs path. */
  cgroupParent: string;
  /** The pod's own user namespace (userns_options mode POD); undefined: the host's. */
  userns?: PodUserns;
}

/**
 * Kubernetes' bound on a pod's annotations (TotalAnnotationSizeLimitB), for labels and annotations
 * alike: they come back in every ListPodSandbox reply, which must stay under 16 MiB.
 */
export const MAX_METADATA_MAP_BYTES = 256 * 1024;

/** kubelet sends an absolute, clean directory; anything else could put logs anywhere. */
function checkLogDirectory(dir: string): void {
  if (dir === '') return;
  if (dir.includes('\0') || dir.includes('\uFFFD')) throw new InvalidArgumentError('config.log_directory is not valid UTF-8 text');
  if (!dir.startsWith('/')) throw new InvalidArgumentError(`config.log_directory "${dir}" must be an absolute path`);
  if (dir.split('/').includes('..')) throw new InvalidArgumentError(`config.log_directory "${dir}" must not contain '..'`);
}

const MODES = new Set([NamespaceMode.POD, NamespaceMode.CONTAINER, NamespaceMode.NODE, NamespaceMode.TARGET]);

export function planSandbox(req: RunPodSandboxRequest, config: Config, defaultParent: string, nodeSupportsUserns?: () => boolean): SandboxPlan {
  const c = req.config;
  if (!c) throw new InvalidArgumentError('config is required');
  const m = c.metadata;
  if (!m) throw new InvalidArgumentError('config.metadata is required');
  for (const [field, v] of [['name', m.name], ['namespace', m.namespace], ['uid', m.uid]] as const) {
    if (!v) throw new InvalidArgumentError(`config.metadata.${field} is required`);
    if (v.includes('\0') || v.includes('\uFFFD')) throw new InvalidArgumentError(`config.metadata.${field} is not valid UTF-8 text`);
  }
  checkLogDirectory(c.logDirectory);
  for (const [field, map] of [['labels', c.labels], ['annotations', c.annotations]] as const) {
    let n = 0;
    for (const [k, v] of Object.entries(map ?? {})) n += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (n > MAX_METADATA_MAP_BYTES) throw new InvalidArgumentError(`config.${field} total ${n} bytes, more than the ${MAX_METADATA_MAP_BYTES} allowed`);
  }
  const handlers = Object.keys(config.runtimes).sort();
  const handler = req.runtimeHandler === '' ? config.defaultRuntime : req.runtimeHandler;
  if (!config.runtimes[handler]) {
    throw new InvalidArgumentError(`unknown runtime handler "${req.runtimeHandler}" (valid: "" (default, ${config.defaultRuntime}), ${handlers.map((h) => `"${h}"`).join(', ')})`);
  }
  const ns = c.linux?.securityContext?.namespaceOptions;
  const netMode = ns?.network ?? NamespaceMode.POD;
  const ipcMode = ns?.ipc ?? NamespaceMode.POD;
  const pidMode = ns?.pid ?? NamespaceMode.POD;
  for (const [field, v] of [['network', netMode], ['ipc', ipcMode], ['pid', pidMode]] as const) {
    if (!MODES.has(v)) throw new InvalidArgumentError(`namespace_options.${field}: unknown mode ${v}`);
  }
  const hostNetwork = netMode === NamespaceMode.NODE;
  const hostIpc = ipcMode === NamespaceMode.NODE;
  const userns = planUserns(ns?.usernsOptions, { hostNetwork, hostIpc, pidMode, handler, handlerPath: config.runtimes[handler]!.path, nodeSupportsUserns });
  // kubelet always sends a hostname; for other clients (critest) derive one from the pod name the
  // way kubelet does: at most 63 characters, not ending in '-' or '.'.
  const hostname = c.hostname !== '' ? c.hostname : m.name.slice(0, 63).replace(/[-.]+$/, '');
  if (!hostNetwork && (Buffer.byteLength(hostname) > 64 || !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(hostname))) {
    throw new InvalidArgumentError(`hostname "${hostname}" is not a valid host name (1-64 letters, digits, '-', '.')`);
  }
  const sysctls: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(c.linux?.sysctls ?? {})) {
    const p = sysctlPath(name);
    if (p === '' || p.startsWith('/') || p.split('/').includes('..')) throw new InvalidArgumentError(`sysctl "${name}" is not a sysctl name`);
    const where = sysctlNamespace(p);
    if (where === 'net') {
      if (hostNetwork) throw new InvalidArgumentError(`sysctl "${name}" cannot be set for a pod on the host network`);
    } else if (where === 'ipc') {
      if (hostIpc) throw new InvalidArgumentError(`sysctl "${name}" cannot be set for a pod in the host IPC namespace`);
    } else {
      throw new InvalidArgumentError(`sysctl "${name}" is not namespaced (allowed: net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)`);
    }
    sysctls.push([p, value]);
  }
  sysctls.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const parent = c.linux?.cgroupParent ?? '';
  const cgroupParent = toCgroupfsPath(parent !== '' ? parent : defaultParent);
  return {
    config: c,
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    attempt: m.attempt,
    requestedHandler: req.runtimeHandler,
    handler,
    hostNetwork,
    hostIpc,
    pid: pidMode,
    hostname,
    sysctls,
    cgroupParent,
    ...(userns ? { userns } : {}),
  };
}

export function modeName(m: NamespaceMode): 'POD' | 'CONTAINER' | 'NODE' | 'TARGET' {
  switch (m) {
    case NamespaceMode.CONTAINER:
      return 'CONTAINER';
    case NamespaceMode.NODE:
      return 'NODE';
    case NamespaceMode.TARGET:
      return 'TARGET';
    default:
      return 'POD';
  }
}
