// Container mounts: the runtime defaults (/proc, /dev, /sys, cgroup…), the pod's files
// (/etc/hosts, /etc/resolv.conf, /etc/hostname, /dev/shm) and CRI mounts, ordered so parents
// precede children.

import * as path from 'node:path';
import { FailedPreconditionError, InvalidArgumentError } from '../../errors';
import { MountPropagation, type Mount } from '../../gen/api';
import { parseMountinfo, type MountinfoEntry } from '../../proc/mountinfo';
import type { SandboxRecord } from '../../sandbox/api';
import type { OciMount } from './types';

/** Normalized absolute path without a trailing slash ("/dev/shm/" and "/dev/shm" are one destination). */
export function cleanPath(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

export function defaultMounts(privileged: boolean): OciMount[] {
  const ro = privileged ? [] : ['ro'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts', type: 'devpts', source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', ...ro] },
  ];
}

/** What the propagation check needs of a mountinfo entry (src/proc/mountinfo.ts parses them). */
export type MountInfoEntry = Pick<MountinfoEntry, 'mountPoint' | 'optional'>;

/** The mount holding `p`: the longest mount point prefix, the last listed one if stacked. */
export function mountOf(p: string, entries: MountInfoEntry[]): MountInfoEntry | undefined {
  let best: MountInfoEntry | undefined;
  for (const e of entries) {
    const mp = e.mountPoint;
    const under = mp === '/' || p === mp || p.startsWith(`${mp}/`);
    if (under && (!best || mp.length >= best.mountPoint.length)) best = e;
  }
  return best;
}

/**
 * Whether building these mounts reads the host's mount table (to check the propagation of
 * bidirectional and host-to-container sources). The table is read per container, and on a busy
 * node it is large (hundreds of KB, ≈ 15 ms to read): containers without such mounts skip it.
 */
export function needsMountInfo(mounts: readonly Mount[] | undefined): boolean {
  return (mounts ?? []).some((m) => m.propagation === MountPropagation.PROPAGATION_BIDIRECTIONAL || m.propagation === MountPropagation.PROPAGATION_HOST_TO_CONTAINER);
}

function checkPropagation(src: string, mountInfo: string, wantSlaveOk: boolean): void {
  if (mountInfo === '') return;
  const m = mountOf(src, parseMountinfo(mountInfo));
  if (!m) throw new FailedPreconditionError(`cannot find the mount of "${src}"`);
  const shared = m.optional.some((o) => o.startsWith('shared:'));
  const slave = m.optional.some((o) => o.startsWith('master:'));
  if (shared || (wantSlaveOk && slave)) return;
  const kind = wantSlaveOk ? 'a shared or slave' : 'a shared';
  throw new FailedPreconditionError(`path "${src}" is mounted on "${m.mountPoint}" but it is not ${kind} mount`);
}

export interface MountEnv {
  resolveHostPath: (p: string) => string;
  mountInfo: string;
  recursiveReadOnlySupported: boolean;
  /**
   * Host paths nori staged for some CRI mounts (container/prepared_mounts.ts): image volumes,
   * and recursive read-only trees made read-only already. Bound instead of the mount's host_path.
   */
  prepared?: ReadonlyMap<Mount, string>;
}

/** kubelet's annotation naming the container's terminationMessagePath. */
export const TERMINATION_MESSAGE_PATH_ANNOTATION = 'io.kubernetes.container.terminationMessagePath';
export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';

/** Where the container writes its termination message: kubelet's annotation, else the k8s default. */
export function terminationMessagePath(annotations: Record<string, string> | undefined): string {
  const p = annotations?.[TERMINATION_MESSAGE_PATH_ANNOTATION] ?? '';
  return p !== '' && path.posix.isAbsolute(p) ? cleanPath(p) : DEFAULT_TERMINATION_MESSAGE_PATH;
}

/**
 * The host file behind the termination message: kubelet mounts its own file there (then that
 * mount's host path), otherwise the runtime's own file (`ownFile`) is mounted and read.
 */
export function terminationMessageSource(criMounts: Mount[], annotations: Record<string, string> | undefined, ownFile: string): string {
  const dest = terminationMessagePath(annotations);
  const cri = criMounts.find((m) => m.containerPath !== '' && cleanPath(m.containerPath) === dest && m.hostPath !== '');
  return cri ? cri.hostPath : ownFile;
}

/**
 * The pod's files (hostname, hosts, resolv.conf, /dev/shm) and the container's termination-message
 * file, where the CRI mounts do not already cover them.
 */
export function podMounts(
  criMounts: Mount[],
  sandbox: SandboxRecord,
  readonlyRootfs: boolean,
  termination?: { containerPath: string; hostPath: string },
): Mount[] {
  const covered = new Set(criMounts.map((m) => cleanPath(m.containerPath)));
  const extra: Mount[] = [];
  const add = (containerPath: string, hostPath: string, readonly: boolean): void => {
    if (!hostPath || covered.has(containerPath)) return;
    extra.push({
      containerPath, hostPath, readonly, selinuxRelabel: false, propagation: MountPropagation.PROPAGATION_PRIVATE,
      uidMappings: [], gidMappings: [], recursiveReadOnly: false, image: undefined, imageSubPath: '',
    });
  };
  add('/etc/hostname', sandbox.hostnamePath, readonlyRootfs);
  add('/etc/hosts', sandbox.hostsPath, readonlyRootfs);
  add('/etc/resolv.conf', sandbox.resolvConfPath, readonlyRootfs);
  add('/dev/shm', sandbox.shmPath, false);
  // Written by the container even when its rootfs is read-only.
  if (termination) add(termination.containerPath, termination.hostPath, false);
  return extra;
}

/** One CRI mount as an OCI bind mount; also reports the rootfs propagation it needs. */
export function criMount(m: Mount, env: MountEnv): { mount: OciMount; rootfsPropagation?: 'rshared' | 'rslave' } {
  if (!m.containerPath || !path.posix.isAbsolute(m.containerPath)) {
    throw new InvalidArgumentError(`mount container_path "${m.containerPath}" must be absolute`);
  }
  const staged = env.prepared?.get(m);
  if (m.image?.image) {
    // An image volume (KEP-4639): always read-only, never propagating.
    if (staged === undefined) throw new InvalidArgumentError(`image volume "${m.image.image}" at "${m.containerPath}" was not prepared`);
    return { mount: { destination: cleanPath(m.containerPath), type: 'bind', source: staged, options: ['rbind', 'rprivate', 'ro'] } };
  }
  if (!m.hostPath) throw new InvalidArgumentError(`mount for "${m.containerPath}" has no host_path`);
  // uidMappings/gidMappings: checked against the pod's user namespace (spec/namespaces.ts);
  // the container code idmaps every bind mount of such a pod.
  const src = staged ?? env.resolveHostPath(m.hostPath);
  const options = ['rbind'];
  let rootfsPropagation: 'rshared' | 'rslave' | undefined;
  switch (m.propagation) {
    case MountPropagation.PROPAGATION_BIDIRECTIONAL:
      checkPropagation(src, env.mountInfo, false);
      options.push('rshared');
      rootfsPropagation = 'rshared';
      break;
    case MountPropagation.PROPAGATION_HOST_TO_CONTAINER:
      checkPropagation(src, env.mountInfo, true);
      options.push('rslave');
      rootfsPropagation = 'rslave';
      break;
    default:
      options.push('rprivate');
  }
  options.push(m.readonly ? 'ro' : 'rw');
  if (m.recursiveReadOnly) {
    if (!m.readonly) throw new InvalidArgumentError(`recursive read-only mount "${m.containerPath}" must be readonly`);
    if (m.propagation !== MountPropagation.PROPAGATION_PRIVATE) {
      throw new InvalidArgumentError(`recursive read-only mount "${m.containerPath}" needs private propagation`);
    }
    // Staged by nori: the tree is read-only already, and a bind copy keeps that.
    if (staged === undefined) {
      if (!env.recursiveReadOnlySupported) {
        throw new InvalidArgumentError('recursive read-only mounts are not supported by the OCI runtime');
      }
      options.push('rro');
    }
  }
  return { mount: { destination: cleanPath(m.containerPath), type: 'bind', source: src, options }, rootfsPropagation };
}

const depth = (p: string): number => cleanPath(p).split('/').filter(Boolean).length;

/**
 * Defaults minus those a supplied mount replaces (same destination; everything under /dev when
 * /dev itself is supplied), then supplied mounts; stable-sorted by depth so parents come first.
 */
export function mergeMounts(defaults: OciMount[], supplied: OciMount[]): OciMount[] {
  const dests = new Set(supplied.map((m) => cleanPath(m.destination)));
  const kept = defaults.filter((m) => {
    const d = cleanPath(m.destination);
    if (dests.has(d)) return false;
    if (dests.has('/dev') && d.startsWith('/dev/')) return false;
    return true;
  });
  const all = [...kept, ...supplied];
  return all.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m.destination) - depth(b.m.destination) || a.i - b.i).map((x) => x.m);
}

/** The whole mount list and linux.rootfsPropagation. */
export function buildMounts(
  criMounts: Mount[],
  sandbox: SandboxRecord,
  privileged: boolean,
  readonlyRootfs: boolean,
  env: MountEnv,
  termination?: { containerPath: string; hostPath: string },
): { mounts: OciMount[]; rootfsPropagation?: string } {
  let propagation: 'rshared' | 'rslave' | undefined;
  const supplied: OciMount[] = [];
  // The pod's files exist already: they are not created nor resolved like CRI host paths.
  const podEnv: MountEnv = { ...env, resolveHostPath: (p) => p };
  const all = [
    ...criMounts.map((m) => ({ m, env })),
    ...podMounts(criMounts, sandbox, readonlyRootfs, termination).map((m) => ({ m, env: podEnv })),
  ];
  for (const { m, env: e } of all) {
    const r = criMount(m, e);
    supplied.push(r.mount);
    if (r.rootfsPropagation === 'rshared' || (r.rootfsPropagation === 'rslave' && propagation === undefined)) {
      propagation = r.rootfsPropagation;
    }
  }
  return { mounts: mergeMounts(defaultMounts(privileged), supplied), rootfsPropagation: propagation };
}
