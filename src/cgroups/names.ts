// cgroup parent names in the two drivers' syntaxes. nori uses cgroupfs here (no systemd on this
// machine); the systemd forms are what kubelet sends with --cgroup-driver=systemd, and what a node
// running systemd would hand to runc as "slice:prefix:name". Both conversions follow runc's
// libcontainer/cgroups/systemd ExpandSlice and kubelet's cgroup_manager_linux ToSystemd.

import { InvalidArgumentError } from '../errors';

/** The child cgroup of a pod's parent that holds the pod init (cgroupfs driver). */
export const POD_INIT_CGROUP = 'nori-podinit';

/** "/kubepods/burstable/pod1" → ["kubepods", "burstable", "pod1"]; refuses "..", empty and NUL. */
export function cgroupfsComponents(path: string): string[] {
  if (path.includes('\0')) throw new InvalidArgumentError(`cgroup parent "${path}" contains NUL`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new InvalidArgumentError(`cgroup parent "${path}" must not contain ".."`);
  return parts;
}

export function isSystemdSlice(name: string): boolean {
  return name.endsWith('.slice') && !name.includes('/');
}

/**
 * systemd slice name → its cgroupfs path: "kubepods-burstable-pod1.slice" →
 * "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice" (each dash is a level).
 */
export function expandSlice(slice: string): string {
  if (!isSystemdSlice(slice)) throw new InvalidArgumentError(`"${slice}" is not a systemd slice name`);
  const base = slice.slice(0, -'.slice'.length);
  if (base === '-') return '/';
  if (base === '' || base.startsWith('-') || base.endsWith('-') || base.includes('--')) {
    throw new InvalidArgumentError(`invalid slice name "${slice}"`);
  }
  let path = '';
  let prefix = '';
  for (const part of base.split('-')) {
    prefix = prefix === '' ? part : `${prefix}-${part}`;
    path += `/${prefix}.slice`;
  }
  return path;
}

/**
 * cgroupfs name → systemd slice (kubelet's ToSystemd): "/kubepods/burstable/pod1" →
 * "kubepods-burstable-pod1.slice". Dashes inside a component become underscores, as kubelet does.
 */
export function toSystemdSlice(cgroupfsPath: string): string {
  const parts = cgroupfsComponents(cgroupfsPath);
  if (parts.length === 0) return '-.slice';
  return `${parts.map((p) => p.replace(/-/g, '_')).join('-')}.slice`;
}

/** The cgroupfs path of a parent given in either syntax. */
export function toCgroupfsPath(parent: string): string {
  if (isSystemdSlice(parent)) return expandSlice(parent);
  return '/' + cgroupfsComponents(parent).join('/');
}

/**
 * A container's cgroup dir relative to the cgroupfs root, from the OCI cgroupsPath nori gave
 * the runtime: "/parent/nori-<id>" as is; the systemd driver's "slice:prefix:name" as runc's
 * systemd driver places it: "<expanded slice>/<prefix>-<name>.scope".
 */
export function containerCgroupDir(cgroupsPath: string): string {
  if (cgroupsPath.startsWith('/') || !cgroupsPath.includes(':')) return cgroupsPath;
  const [slice = '', prefix = '', name = ''] = cgroupsPath.split(':');
  const parent = slice === '' ? '/system.slice' : expandSlice(slice);
  const unit = name.endsWith('.slice') ? name : `${prefix === '' ? '' : `${prefix}-`}${name}.scope`;
  return `${parent}/${unit}`;
}

/**
 * The cgroup parent of a pod whose config names none: `/<prefix>/pod<id>` (cgroupfs) or the
 * slice `<prefix>-pod<id>.slice` under `<prefix>.slice` (systemd: parents must be slices).
 */
export function defaultPodParent(driver: 'cgroupfs' | 'systemd', prefix: string, podId: string): string {
  if (driver === 'systemd') return `${prefix.replace(/-/g, '_')}-pod${podId}.slice`;
  return `/${prefix}/pod${podId}`;
}
