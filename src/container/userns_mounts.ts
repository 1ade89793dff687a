// Files of a container in a pod with its own user namespace: idmapped mounts, so the image and
// every volume show their owners through the pod's maps (on-disk 0 reads as the pod's root) and
// nothing is chowned. runc 1.1 has no mount idmaps, so nori makes them:
//   - the rootfs: overlayfs over an idmapped clone of each image layer (overlayfs accepts
//     idmapped lower layers since 5.19). The upper dir cannot be idmapped (overlayfs writes its
//     work dir as the mounter, host root, whom the map does not cover), so the container
//     layer's fresh, empty upper dir is owned by the mapped owner of the image root instead;
//     files the container writes land on disk with host ids in the pod's range.
//   - each bind mount of the spec (CRI volumes, hosts, resolv.conf, hostname, termination-log,
//     /dev/shm): an idmapped clone that the runtime bind-mounts instead of the source.
// The clones live under <state>/idmap/<container id>/, not in the bundle, so a recursive delete
// of a bundle can never reach an image layer or a volume through them. Overlayfs keeps private
// clones of its layers and the runtime's bind mounts are the container's own, so every clone is
// unmounted right after the rootfs is mounted or the runtime has created the container: nothing
// stays mounted there. A crash in between leaves clones that startup sweeps (sweepIdmaps).

import { chmodSync, chownSync, constants as fsc, rmdirSync, statSync, unlinkSync, lstatSync, accessSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { FailedPreconditionError, errorMessage } from '../errors';
import type { SandboxRecord } from '../sandbox/api';
import { toHostId } from '../sandbox/userns';
import { MNT_DETACH } from '../sys/constants';
import type { Sys } from '../sys/types';
import type { UsernsSys } from '../sys/userns';
import { listDirQuiet, mkdirp } from '../util/fs';
import type { OciMount } from './spec/types';

export interface ContainerLayer {
  lowerdir: string;
  upperdir: string;
  workdir: string;
  mountCwd: string;
}

export interface UsernsMountDeps {
  sys: Sys;
  userns: UsernsSys;
  state: string;
}

/** Where a container's idmapped clones are mounted while it is created. */
export function idmapDir(state: string, containerId: string): string {
  return join(state, 'idmap', containerId);
}

/**
 * The pod's root (a host id in its range) must reach the rootfs and the clones by path: runc
 * mounts them from inside the user namespace, where host root's 0700 dirs are closed to it.
 * nori's own dirs become 0711 (search, not list: as containerd keeps its state dirs); a dir
 * above the state dir that is closed is reported rather than changed.
 */
export function openPathForPodRoot(state: string, dirs: string[]): void {
  for (let d = dirname(resolvePath(state)); d !== '/'; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new FailedPreconditionError(`${d} (above the state dir) is not searchable by others: a pod with its own user namespace cannot reach its rootfs`);
    }
  }
  for (const d of [state, ...dirs]) {
    const mode = statSync(d).mode & 0o7777;
    if ((mode & 0o001) === 0) chmodSync(d, mode | 0o011);
  }
}

/**
 * Mounts the container's rootfs at `target`: overlayfs over idmapped clones of the image layers,
 * the upper dir given the mapped owner of the image root. The clones are unmounted before
 * returning (overlayfs holds its own).
 */
export function mountUsernsRootfs(d: UsernsMountDeps, containerId: string, layer: ContainerLayer, target: string, sandbox: SandboxRecord): void {
  const u = sandbox.userns!;
  const pin = sandbox.nsPaths.user!;
  const dir = idmapDir(d.state, containerId);
  mkdirp(dir, 0o711);
  const abs = (p: string) => (layer.mountCwd ? resolvePath(layer.mountCwd, p) : p);
  const lowers = layer.lowerdir.split(':').map(abs);
  const names: string[] = [];
  try {
    lowers.forEach((lower, i) => {
      d.userns.idmapMount(lower, join(dir, `l${i}`), pin, false);
      names.push(`l${i}`);
    });
    const upper = abs(layer.upperdir);
    const st = statSync(upper);
    const uid = toHostId(u.uidMappings, st.uid);
    const gid = toHostId(u.gidMappings, st.gid);
    if (uid === undefined || gid === undefined) {
      throw new FailedPreconditionError(`the image root is owned by ${st.uid}:${st.gid}, outside the pod's user namespace maps`);
    }
    chownSync(upper, uid, gid);
    // Relative lower names keep the option short for images with many layers (4 KiB page).
    const data = `lowerdir=${names.join(':')},upperdir=${upper},workdir=${abs(layer.workdir)}`;
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      d.sys.mount('overlay', target, 'overlay', 0, data);
    } finally {
      process.chdir(cwd);
    }
  } finally {
    releaseIdmaps(d.sys, dir);
  }
}

/**
 * Replaces the source of every bind mount in `mounts` with an idmapped clone of it under the
 * container's idmap dir. Release them with releaseIdmaps once the runtime has created the
 * container (or on failure).
 */
export function idmapBindSources(d: UsernsMountDeps, containerId: string, mounts: OciMount[], sandbox: SandboxRecord): void {
  const pin = sandbox.nsPaths.user!;
  const dir = idmapDir(d.state, containerId);
  mkdirp(dir, 0o711);
  mounts.forEach((m, i) => {
    if (m.type !== 'bind' || !m.source) return;
    const source = m.source;
    const target = join(dir, `v${i}`);
    try {
      d.userns.idmapMount(source, target, pin, (m.options ?? []).includes('rbind'));
    } catch (e) {
      throw new FailedPreconditionError(`mount "${m.destination}": cannot make an idmapped mount of "${source}" for the pod's user namespace: ${errorMessage(e)}`);
    }
    m.source = target;
  });
}

/**
 * Unmounts every clone under `dir` and removes the dir. Each entry is one of our mount points,
 * so no mount table is read (it grows with the node's pods). Nothing is removed recursively:
 * rmdir and unlink refuse a non-empty dir or a busy mount point, which is then reported.
 */
export function releaseIdmaps(sys: Sys, dir: string): string[] {
  const left: string[] = [];
  const names = listDirQuiet(dir);
  if (names.length === 0 && !exists(dir)) return left;
  for (const name of names) {
    const p = join(dir, name);
    // Detach until nothing is mounted there (EINVAL: not a mount point); a few at most.
    for (let i = 0; i < 8; i++) {
      try {
        sys.umount2(p, MNT_DETACH);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EINVAL' && code !== 'ENOENT') left.push(`${p}: ${errorMessage(e)}`);
        break;
      }
    }
    try {
      if (lstatSync(p).isDirectory()) rmdirSync(p);
      else unlinkSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(`${p}: ${errorMessage(e)}`);
    }
  }
  try {
    rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(`${dir}: ${errorMessage(e)}`);
  }
  return left;
}

/** Start-up: clones a crash left between mount and release (no create is in flight now). */
export function sweepIdmaps(sys: Sys, state: string): string[] {
  const root = join(state, 'idmap');
  const left: string[] = [];
  for (const id of listDirQuiet(root)) left.push(...releaseIdmaps(sys, join(root, id)));
  return left;
}

function exists(p: string): boolean {
  try {
    accessSync(p, fsc.F_OK);
    return true;
  } catch {
    return false;
  }
}
