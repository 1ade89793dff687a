// Argument checks shared by NativeSys and FakeSys so both refuse the same inputs, with
// InvalidArgumentError (the sandbox passes pod-spec values through here).

import { isIP } from 'node:net';

import { InvalidArgumentError } from '../errors';
import type { ConfigureNamespacesOptions, NamespacePaths, NamespaceType, PinNamespacesOptions, SysctlList } from './types';

// The user namespace first: it is joined before the namespaces it owns.
const TYPES: readonly NamespaceType[] = ['user', 'net', 'ipc', 'uts'];
const IPC_SYSCTL = /^(kernel\/(shm[a-z_]*|msg[a-z_]*|sem)|fs\/mqueue\/[^/]+)$/;

/** Which namespace a sysctl lives in, or null when it is not namespaced (host-wide). */
export function sysctlNamespace(path: string): NamespaceType | null {
  if (path.startsWith('net/')) return 'net';
  if (IPC_SYSCTL.test(path)) return 'ipc';
  if (path === 'kernel/hostname' || path === 'kernel/domainname') return 'uts';
  return null;
}

/** 'net.ipv4.ip_forward' → 'net/ipv4/ip_forward' (sysctl(8)'s rule: names with '/' are kept). */
export function sysctlPath(name: string): string {
  return name.includes('/') ? name : name.replace(/\./g, '/');
}

export function namespaceEntries(paths: NamespacePaths, what: string): Array<[NamespaceType, string]> {
  for (const key of Object.keys(paths)) {
    if (!(TYPES as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(`${what}.${key}: only user, net, ipc and uts are supported`);
    }
  }
  const out: Array<[NamespaceType, string]> = [];
  for (const type of TYPES) {
    const p = paths[type];
    if (p === undefined) continue;
    if (typeof p !== 'string' || p === '' || p.includes('\0')) {
      throw new InvalidArgumentError(`${what}.${type} must be a non-empty path`);
    }
    out.push([type, p]);
  }
  return out;
}

function checkSysctls(sysctls: SysctlList | undefined, present: ReadonlySet<NamespaceType>): void {
  for (const [path] of sysctls ?? []) {
    if (path === '' || path.startsWith('/') || path.split('/').includes('..')) {
      throw new InvalidArgumentError(`sysctl '${path}' must be a path relative to /proc/sys`);
    }
    const ns = sysctlNamespace(path);
    if (ns === null || ns === 'uts') {
      throw new InvalidArgumentError(`sysctl '${path}' is not namespaced (only net/*, IPC sysctls)`);
    }
    if (!present.has(ns)) throw new InvalidArgumentError(`sysctl '${path}' needs a ${ns} namespace`);
  }
}

function checkCommon(
  opts: { hostname?: string; loopbackUp?: boolean; sysctls?: SysctlList },
  present: ReadonlySet<NamespaceType>,
): void {
  if (opts.hostname !== undefined) {
    if (!present.has('uts')) throw new InvalidArgumentError('hostname needs a uts namespace');
    if (opts.hostname === '' || Buffer.byteLength(opts.hostname) > 64 || opts.hostname.includes('\0')) {
      throw new InvalidArgumentError(`hostname '${opts.hostname}' must be 1-64 bytes`);
    }
  }
  if (opts.loopbackUp && !present.has('net')) throw new InvalidArgumentError('loopbackUp needs a net namespace');
  checkSysctls(opts.sysctls, present);
}

export function validatePin(opts: PinNamespacesOptions): Array<[NamespaceType, string]> {
  const targets = namespaceEntries(opts.targets ?? {}, 'targets');
  if (targets.length === 0) throw new InvalidArgumentError('targets must name at least one of net, ipc, uts');
  if (targets.some(([t]) => t === 'user')) throw new InvalidArgumentError('targets.user: a user namespace is pinned with pinUserNamespace');
  checkCommon(opts, new Set(targets.map(([t]) => t)));
  return targets;
}

export function validateConfigure(opts: ConfigureNamespacesOptions): Array<[NamespaceType, string]> {
  const join = namespaceEntries(opts.join ?? {}, 'join');
  if (join.length === 0) throw new InvalidArgumentError('join must name at least one of net, ipc, uts');
  const present = new Set(join.map(([t]) => t));
  checkCommon(opts, present);
  for (const w of opts.writes ?? []) {
    // The child shares the host's mount namespace: only /proc files (sysctls, per-ns knobs) are
    // namespace-relative, so anything else would be a plain host write.
    if (!w.path.startsWith('/proc/') || w.path.split('/').includes('..')) {
      throw new InvalidArgumentError(`write path '${w.path}' must be under /proc/`);
    }
  }
  if ((opts.writes?.length ?? 0) > 0 && !present.has('net') && !present.has('ipc')) {
    throw new InvalidArgumentError('writes need a net or ipc namespace');
  }
  return join;
}

export function validateConnect(host: string, port: number, timeoutMs: number | undefined): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`port ${port} is not 1-65535`);
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 0)) {
    throw new InvalidArgumentError(`timeoutMs ${timeoutMs} must be a non-negative integer`);
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) === 0) throw new InvalidArgumentError(`host '${host}' is not an IP address`);
}
