// Linux namespaces: join the pod's user namespace (if it has one), network/IPC/UTS, a new mount namespace, the PID namespace by
// the container's mode, and a new cgroup namespace on cgroup v2 hosts.

import { FailedPreconditionError, InvalidArgumentError } from '../../errors';
import { NamespaceMode, type IDMapping, type LinuxContainerSecurityContext, type Mount } from '../../gen/api';
import type { IdRange } from '../../sys/userns';
import type { SandboxRecord } from '../../sandbox/api';

export interface OciNamespace { type: string; path?: string }

const PID_MODE: Record<number, SandboxRecord['pid']> = {
  [NamespaceMode.POD]: 'POD',
  [NamespaceMode.CONTAINER]: 'CONTAINER',
  [NamespaceMode.NODE]: 'NODE',
  [NamespaceMode.TARGET]: 'TARGET',
};

const sameRange = (a: IDMapping[], b: readonly IdRange[]): boolean =>
  a.length === b.length && a.every((m, i) => m.containerId === b[i].containerId && m.hostId === b[i].hostId && m.length === b[i].length);

/**
 * A container lives in its pod's user namespace: options it sends (kubelet repeats the pod's)
 * must say the same; modes CONTAINER and TARGET are not supported by the CRI.
 */
export function checkContainerUserns(sc: LinuxContainerSecurityContext | undefined, sandbox: SandboxRecord): void {
  const opt = sc?.namespaceOptions?.usernsOptions;
  if (!opt) return;
  switch (opt.mode) {
    case NamespaceMode.NODE:
      if (sandbox.userns) throw new InvalidArgumentError(`container asks for the host's user namespace in pod ${sandbox.id}, which has its own`);
      return;
    case NamespaceMode.POD:
      if (!sandbox.userns) throw new InvalidArgumentError(`container asks for the pod's user namespace, but pod ${sandbox.id} has none (it runs in the host's)`);
      if (!sameRange(opt.uids, sandbox.userns.uidMappings) || !sameRange(opt.gids, sandbox.userns.gidMappings)) {
        throw new InvalidArgumentError(`container user namespace mappings differ from those of pod ${sandbox.id}`);
      }
      return;
    default:
      throw new InvalidArgumentError(`userns_options mode ${NamespaceMode[opt.mode] ?? opt.mode} is not supported (only POD and NODE)`);
  }
}

/** A mount's own mappings, if any, must be the pod's: every volume is idmapped with those. */
export function checkMountMappings(mounts: readonly Mount[], sandbox: SandboxRecord): void {
  for (const m of mounts) {
    if (m.uidMappings.length === 0 && m.gidMappings.length === 0) continue;
    if (!sandbox.userns) throw new InvalidArgumentError(`mount "${m.containerPath}" has id mappings but pod ${sandbox.id} has no user namespace`);
    if (!sameRange(m.uidMappings, sandbox.userns.uidMappings) || !sameRange(m.gidMappings, sandbox.userns.gidMappings)) {
      throw new InvalidArgumentError(`mount "${m.containerPath}": id mappings other than the pod's are not supported`);
    }
  }
}

/** OCI linux.uidMappings/gidMappings for a pod with its own user namespace (runc wants them with the path). */
export function ociIdMappings(sandbox: SandboxRecord): Record<string, unknown> {
  if (!sandbox.userns) return {};
  const oci = (r: IdRange) => ({ containerID: r.containerId, hostID: r.hostId, size: r.length });
  return { uidMappings: sandbox.userns.uidMappings.map(oci), gidMappings: sandbox.userns.gidMappings.map(oci) };
}

/** The container's PID mode: its own namespace options if given, else the pod's. */
export function pidMode(sc: LinuxContainerSecurityContext | undefined, sandbox: SandboxRecord, mounts: readonly Mount[] = []): SandboxRecord['pid'] {
  checkContainerUserns(sc, sandbox);
  checkMountMappings(mounts, sandbox);
  const mode = sc?.namespaceOptions?.pid;
  if (mode === undefined) return sandbox.pid;
  const named = PID_MODE[mode];
  if (!named) throw new InvalidArgumentError(`unknown pid namespace mode ${mode}`);
  return named;
}

export function buildNamespaces(
  sandbox: SandboxRecord,
  pid: SandboxRecord['pid'],
  targetPidNamespace: string | undefined,
  cgroupV2: boolean,
): OciNamespace[] {
  const out: OciNamespace[] = [];
  // The pod's user namespace first (runc joins it before the namespaces it owns either way).
  if (sandbox.nsPaths.user) out.push({ type: 'user', path: sandbox.nsPaths.user });
  const join = (type: string, mode: SandboxRecord['network'], path: string | undefined, what: string): void => {
    if (mode === 'NODE') return;
    if (!path) throw new FailedPreconditionError(`sandbox ${sandbox.id} has no ${what} namespace`);
    out.push({ type, path });
  };
  join('network', sandbox.network, sandbox.nsPaths.net, 'network');
  join('ipc', sandbox.ipc, sandbox.nsPaths.ipc, 'IPC');
  // UTS follows the network mode: a host-network pod uses the host's hostname.
  if (sandbox.nsPaths.uts) out.push({ type: 'uts', path: sandbox.nsPaths.uts });
  else if (sandbox.network !== 'NODE') throw new FailedPreconditionError(`sandbox ${sandbox.id} has no UTS namespace`);
  out.push({ type: 'mount' });
  switch (pid) {
    case 'CONTAINER':
      out.push({ type: 'pid' });
      break;
    case 'POD':
      if (!sandbox.nsPaths.pid) throw new FailedPreconditionError(`sandbox ${sandbox.id} has no shared PID namespace`);
      out.push({ type: 'pid', path: sandbox.nsPaths.pid });
      break;
    case 'TARGET':
      if (!targetPidNamespace) throw new InvalidArgumentError('pid mode TARGET without a target container');
      out.push({ type: 'pid', path: targetPidNamespace });
      break;
    case 'NODE':
      break;
  }
  if (cgroupV2) out.push({ type: 'cgroup' });
  return out;
}
