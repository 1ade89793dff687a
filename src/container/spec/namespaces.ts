// Linux namespaces: join the pod's network/IPC/UTS, a new mount namespace, the PID namespace by
// the container's mode, and a new cgroup namespace on cgroup v2 hosts.

import { FailedPreconditionError, InvalidArgumentError, UnimplementedError } from '../../errors';
import { NamespaceMode, type LinuxContainerSecurityContext } from '../../gen/api';
import type { SandboxRecord } from '../../sandbox/api';

export interface OciNamespace { type: string; path?: string }

const PID_MODE: Record<number, SandboxRecord['pid']> = {
  [NamespaceMode.POD]: 'POD',
  [NamespaceMode.CONTAINER]: 'CONTAINER',
  [NamespaceMode.NODE]: 'NODE',
  [NamespaceMode.TARGET]: 'TARGET',
};

/** The container's PID mode: its own namespace options if given, else the pod's. */
export function pidMode(sc: LinuxContainerSecurityContext | undefined, sandbox: SandboxRecord): SandboxRecord['pid'] {
  const userns = sc?.namespaceOptions?.usernsOptions;
  if (userns && userns.mode !== NamespaceMode.NODE) {
    throw new UnimplementedError('user namespaces are not supported');
  }
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
