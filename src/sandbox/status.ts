// A sandbox as PodSandboxStatus and ListPodSandbox report it.

import { NamespaceMode, PodSandbox, PodSandboxState, PodSandboxStatus, type PodSandboxFilter } from '../gen/api';
import type { SandboxEntry } from './service';

function state(e: SandboxEntry): PodSandboxState {
  return e.row.state === 'READY' ? PodSandboxState.SANDBOX_READY : PodSandboxState.SANDBOX_NOTREADY;
}

function metadata(e: SandboxEntry) {
  return { name: e.rec.name, uid: e.rec.uid, namespace: e.rec.namespace, attempt: e.rec.attempt };
}

/**
 * Views per entry, kept while the fields they show stay the same: entries are replaced when a
 * sandbox is made or recovered, and only state and network teardown change in place.
 */
interface Views {
  key: string;
  status?: PodSandboxStatus;
  item?: PodSandbox;
  info?: Record<string, string>;
}
const views = new WeakMap<SandboxEntry, Views>();

function viewsOf(e: SandboxEntry): Views {
  const key = `${e.row.state}|${e.row.networkTornDown}`;
  let v = views.get(e);
  if (v?.key !== key || v === undefined) views.set(e, (v = { key }));
  return v;
}

export function toStatus(e: SandboxEntry): PodSandboxStatus {
  const v = viewsOf(e);
  return (v.status ??= buildStatus(e));
}

export function verboseInfo(e: SandboxEntry): Record<string, string> {
  const v = viewsOf(e);
  return (v.info ??= buildVerboseInfo(e));
}

export function toListItem(e: SandboxEntry): PodSandbox {
  const v = viewsOf(e);
  return (v.item ??= buildListItem(e));
}

function buildStatus(e: SandboxEntry): PodSandboxStatus {
  const o = e.rec.internals.namespaceOptions;
  return PodSandboxStatus.fromPartial({
    id: e.rec.id,
    metadata: metadata(e),
    state: state(e),
    createdAt: e.row.createdAtNs,
    network: { ip: e.rec.ip, additionalIps: e.rec.additionalIps.map((ip) => ({ ip })) },
    linux: { namespaces: { options: { network: o.network, pid: o.pid, ipc: o.ipc, targetId: o.targetId, usernsOptions: usernsOptions(e) } } },
    labels: e.rec.labels,
    annotations: e.rec.annotations,
    runtimeHandler: e.rec.internals.requestedRuntimeHandler,
  });
}

/** Mode POD with the pod's maps, or NODE (the host's user namespace), as containerd reports it. */
function usernsOptions(e: SandboxEntry) {
  const u = e.rec.userns;
  if (!u) return { mode: NamespaceMode.NODE, uids: [], gids: [] };
  return { mode: NamespaceMode.POD, uids: u.uidMappings, gids: u.gidMappings };
}

/** The `verbose` info: one JSON document under "info", as containerd does. */
function buildVerboseInfo(e: SandboxEntry): Record<string, string> {
  let cniResult: unknown = null;
  try {
    cniResult = e.row.cniResult ? JSON.parse(e.row.cniResult) : null;
  } catch {
    cniResult = e.row.cniResult;
  }
  const info = {
    pid: e.rec.internals.podInitPid,
    netnsPath: e.rec.nsPaths.net ?? '',
    namespacePaths: e.rec.nsPaths,
    runtimeHandler: e.rec.runtimeHandler,
    cgroupParent: e.rec.cgroupParent,
    sandboxDir: e.rec.internals.sandboxDir,
    shmPath: e.rec.shmPath,
    networkTornDown: e.row.networkTornDown,
    cniResult,
  };
  return { info: JSON.stringify(info) };
}

function buildListItem(e: SandboxEntry): PodSandbox {
  return PodSandbox.fromPartial({
    id: e.rec.id,
    metadata: metadata(e),
    state: state(e),
    createdAt: e.row.createdAtNs,
    labels: e.rec.labels,
    annotations: e.rec.annotations,
    runtimeHandler: e.rec.internals.requestedRuntimeHandler,
  });
}

/** ANDed filter; an id filter matches the full id or a prefix that names exactly one sandbox. */
export function filterSandboxes(all: readonly SandboxEntry[], f: PodSandboxFilter | undefined): SandboxEntry[] {
  if (!f) return [...all];
  let out = [...all];
  if (f.id !== '') {
    const exact = out.filter((e) => e.rec.id === f.id);
    const prefixed = out.filter((e) => e.rec.id.startsWith(f.id));
    out = exact.length > 0 ? exact : prefixed.length === 1 ? prefixed : [];
  }
  if (f.state) out = out.filter((e) => state(e) === f.state!.state);
  const sel = Object.entries(f.labelSelector ?? {});
  if (sel.length > 0) out = out.filter((e) => sel.every(([k, v]) => e.rec.labels[k] === v));
  return out;
}
