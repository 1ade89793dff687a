// What RunPodSandbox stores for a new pod before it makes anything: the record every later step
// (and a restarted daemon) reads, and the CREATING row that reserves the pod's name.

import { NamespaceMode, PodSandboxConfig } from '../gen/api';
import type { SandboxRow } from '../store/sandbox_store';
import { hostFile } from './files';
import type { SandboxPaths } from './paths';
import { encodeRecord, type StoredRecord } from './record';
import { modeName, type SandboxPlan } from './validate';

/** Which namespaces the pod pins itself (the rest are the node's, or each container's). */
export interface PinnedKinds {
  net: boolean;
  ipc: boolean;
  uts: boolean;
  /** One pid namespace for the whole pod, held by the pod init. */
  sharedPid: boolean;
}

export function pinnedKinds(plan: SandboxPlan): PinnedKinds {
  return { net: !plan.hostNetwork, ipc: !plan.hostIpc, uts: !plan.hostNetwork, sharedPid: plan.pid === NamespaceMode.POD };
}

export function newSandboxRecord(id: string, plan: SandboxPlan, p: SandboxPaths): StoredRecord {
  const nsOpt = plan.config.linux?.securityContext?.namespaceOptions;
  const pin = pinnedKinds(plan);
  return {
    id,
    name: plan.name,
    namespace: plan.namespace,
    uid: plan.uid,
    attempt: plan.attempt,
    runtimeHandler: plan.handler,
    labels: plan.config.labels,
    annotations: plan.config.annotations,
    hostname: plan.hostNetwork ? hostFile('/proc/sys/kernel/hostname').toString().trim() : plan.hostname,
    network: modeName(nsOpt?.network ?? NamespaceMode.POD),
    ipc: modeName(nsOpt?.ipc ?? NamespaceMode.POD),
    pid: modeName(plan.pid),
    nsPaths: {
      ...(plan.userns ? { user: p.ns.user } : {}),
      ...(pin.net ? { net: p.ns.net } : {}),
      ...(pin.ipc ? { ipc: p.ns.ipc } : {}),
      ...(pin.uts ? { uts: p.ns.uts } : {}),
      ...(pin.sharedPid ? { pid: p.ns.pid } : {}),
    },
    ...(plan.userns ? { userns: plan.userns } : {}),
    hostsPath: p.hosts,
    resolvConfPath: p.resolvConf,
    hostnamePath: p.hostname,
    shmPath: plan.hostIpc ? '/dev/shm' : p.shm,
    cgroupParent: plan.cgroupParent,
    securityContext: plan.config.linux?.securityContext ?? null,
    sysctls: plan.config.linux?.sysctls ?? {},
    ip: '',
    additionalIps: [],
    logDirectory: plan.config.logDirectory,
    internals: {
      requestedRuntimeHandler: plan.requestedHandler,
      cgroupCreated: [],
      shmOwned: !plan.hostIpc,
      sandboxDir: p.dir,
      portMappings: plan.config.portMappings.map((m) => ({ hostPort: m.hostPort, containerPort: m.containerPort, protocol: m.protocol, hostIp: m.hostIp })),
      namespaceOptions: { network: nsOpt?.network ?? 0, pid: nsOpt?.pid ?? 0, ipc: nsOpt?.ipc ?? 0, targetId: nsOpt?.targetId ?? '' },
      podInitPid: 0,
    },
  };
}

export function newSandboxRow(rec: StoredRecord, nameKey: string, config: PodSandboxConfig, createdAtNs: bigint): SandboxRow {
  return {
    id: rec.id,
    nameKey,
    state: 'CREATING',
    createdAtNs,
    config: Buffer.from(PodSandboxConfig.encode(config).finish()),
    record: encodeRecord(rec),
    podInitPid: null,
    networkTornDown: false,
    cniResult: null,
  };
}
