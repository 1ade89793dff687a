// A pod's user namespace (NamespaceOption.userns_options; kubelet's hostUsers: false): what the
// CRI allows, checked up front so a refused pod leaves nothing behind.
//   - mode NODE: the host's user namespace, as every pod had before; no mappings.
//   - mode POD: the pod's own user namespace, with one uid and one gid range that maps
//     container id 0 (kubelet sends exactly that: 0 → a 65536-aligned host range).
//   - CONTAINER and TARGET: the CRI says they are not supported for user namespaces.
// A pod with its own user namespace cannot use the host's network, IPC or PID namespace: they
// are owned by the host's user namespace, so the pod's root could not mount sysfs, mqueue or
// /proc for them (kubelet refuses those pods too; Status says user_namespaces_host_network false).

import * as path from 'node:path';
import { InvalidArgumentError } from '../errors';
import { NamespaceMode, type IDMapping, type UserNamespace } from '../gen/api';
import type { IdRange } from '../sys/userns';

export interface PodUserns {
  uidMappings: IdRange[];
  gidMappings: IdRange[];
}

export interface UsernsContext {
  hostNetwork: boolean;
  hostIpc: boolean;
  pidMode: NamespaceMode;
  handler: string;
  handlerPath: string;
  /** Whether the node can idmap what nori makes for the pod (userns_host.ts); asked only for mode POD. */
  nodeSupportsUserns?: () => boolean;
}

/**
 * Handlers that run user-namespaced pods here: runc and crun (through nori's wrapper on hybrid
 * hosts) both join a user namespace by path with its maps; nori makes the idmapped mounts.
 */
export function handlerSupportsUserns(handlerPath: string): boolean {
  return ['runc', 'crun'].includes(path.basename(handlerPath));
}

function range(m: IDMapping, what: string): IdRange {
  if (m.length === 0) throw new InvalidArgumentError(`userns_options.${what}: length must be > 0`);
  if (m.hostId + m.length > 0x100000000 || m.containerId + m.length > 0x100000000) {
    throw new InvalidArgumentError(`userns_options.${what}: ${m.containerId}:${m.hostId}:${m.length} overflows 32-bit ids`);
  }
  return { containerId: m.containerId, hostId: m.hostId, length: m.length };
}

function oneRange(list: IDMapping[], what: 'uids' | 'gids'): IdRange {
  if (list.length === 0) throw new InvalidArgumentError(`userns_options mode POD needs ${what} mappings`);
  if (list.length > 1) throw new InvalidArgumentError(`userns_options.${what}: only one mapping is supported, got ${list.length}`);
  const r = range(list[0], what);
  if (r.containerId !== 0) throw new InvalidArgumentError(`userns_options.${what}: container id 0 is not mapped (the mapping starts at ${r.containerId})`);
  return r;
}

/** The pod's user namespace, or undefined for the host's; InvalidArgument for what the CRI refuses. */
export function planUserns(opt: UserNamespace | undefined, ctx: UsernsContext): PodUserns | undefined {
  if (!opt) return undefined;
  switch (opt.mode) {
    case NamespaceMode.NODE:
      if (opt.uids.length > 0 || opt.gids.length > 0) throw new InvalidArgumentError('userns_options mode NODE takes no mappings');
      return undefined;
    case NamespaceMode.POD:
      break;
    case NamespaceMode.CONTAINER:
    case NamespaceMode.TARGET:
      throw new InvalidArgumentError(`userns_options mode ${NamespaceMode[opt.mode]} is not supported (only POD and NODE)`);
    default:
      throw new InvalidArgumentError(`userns_options: unknown mode ${opt.mode as number}`);
  }
  const uid = oneRange(opt.uids, 'uids');
  const gid = oneRange(opt.gids, 'gids');
  if (ctx.hostNetwork) throw new InvalidArgumentError('a pod with its own user namespace cannot use the host network');
  if (ctx.hostIpc) throw new InvalidArgumentError('a pod with its own user namespace cannot use the host IPC namespace');
  if (ctx.pidMode === NamespaceMode.NODE) throw new InvalidArgumentError('a pod with its own user namespace cannot use the host PID namespace');
  if (!handlerSupportsUserns(ctx.handlerPath)) {
    throw new InvalidArgumentError(`runtime handler "${ctx.handler}" does not support user namespaces (Status lists the handlers that do)`);
  }
  if (ctx.nodeSupportsUserns && !ctx.nodeSupportsUserns()) {
    throw new InvalidArgumentError('this node cannot run pods with their own user namespace: its kernel cannot idmap tmpfs (Linux >= 6.3 needed; Status lists no handler with user_namespaces)');
  }
  return { uidMappings: [uid], gidMappings: [gid] };
}

/** Maps a container id to the host through one of the ranges; undefined when it is not mapped. */
export function toHostId(ranges: readonly IdRange[], id: number): number | undefined {
  for (const r of ranges) if (id >= r.containerId && id - r.containerId < r.length) return r.hostId + (id - r.containerId);
  return undefined;
}
