// Image volumes (Mount.image, KEP-4639): another image's root filesystem, read-only, as a volume.
// kubelet pulls the image first; nori takes a reference on it like a container's own image
// (a row in the image store's container layers, id "<container id>.image-volume.<n>"), mounts
// its layers as a read-only overlay in the mount's staging slot (prepared_mounts.ts) and hands the
// runtime that directory, or its image_sub_path. The staging mount goes after create; the
// reference stays until the container is removed, so RemoveImage of that image is refused
// meanwhile (FailedPrecondition, naming the container), as for a container's own image
// (docs/images.md). Start-up recovery drops references whose container has no row.

import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { basename, join, posix, resolve as resolvePath } from 'node:path';
import { InvalidArgumentError, NotFoundError, errorMessage } from '../errors';
import type { Mount } from '../gen/api';
import { imageVolumeRef, layerOwner, type ContainerLayer, type ImageLookup } from '../image/api';
import type { Logger } from '../log';
import { MS } from '../sys/constants';
import type { Sys } from '../sys/types';
import { mkdirp } from '../util/fs';
import { stagingParent, type MountStager } from './prepared_mounts';
import type { SandboxRecord } from '../sandbox/api';
import { mountUsernsRootfs, type UsernsMountDeps } from './userns_mounts';

/** The container holding an image-store reference id, if it is an image volume's. */
export function imageVolumeOwner(refId: string): string | undefined {
  const o = layerOwner(refId);
  return o.imageVolume ? o.container : undefined;
}

const MAX_SYMLINKS = 40;

/**
 * `sub` (an image_sub_path) resolved inside `root` the way the container would see it: symlinks
 * are followed with `root` as "/", and none may lead above it. Returns a path without symlinks.
 * Absolute paths and ".." components are refused; so is a path that is missing or no directory
 * (as containerd: a volume is a directory).
 */
export function resolveSubPath(root: string, sub: string): string {
  if (sub === '') return root;
  if (posix.isAbsolute(sub)) throw new InvalidArgumentError(`image_sub_path "${sub}" must be relative to the image root`);
  const asked = sub.split('/');
  if (asked.includes('..')) throw new InvalidArgumentError(`image_sub_path "${sub}" must not contain ".."`);
  const queue = asked.filter((c) => c !== '' && c !== '.');
  const cur: string[] = [];
  let links = 0;
  while (queue.length > 0) {
    const comp = queue.shift()!;
    if (comp === '..') {
      if (cur.length === 0) throw new InvalidArgumentError(`image_sub_path "${sub}" leads out of the image through a symlink`);
      cur.pop();
      continue;
    }
    const here = join(root, ...cur, comp);
    const st = lstatSync(here, { throwIfNoEntry: false });
    if (!st) throw new NotFoundError(`image_sub_path "${sub}" does not exist in the image ("${[...cur, comp].join('/')}" is missing)`);
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw new InvalidArgumentError(`image_sub_path "${sub}": too many levels of symbolic links`);
      const target = readlinkSync(here);
      if (posix.isAbsolute(target)) cur.length = 0;
      queue.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
      continue;
    }
    cur.push(comp);
  }
  const final = join(root, ...cur);
  if (!statSync(final).isDirectory()) throw new InvalidArgumentError(`image_sub_path "${sub}" is not a directory in the image`);
  return final;
}

export interface ImageVolumeDeps {
  images: ImageLookup;
  sys: Sys;
  log: Logger;
  /** Every reference id the image store holds (its container layers). */
  refIds(): string[];
  /** The reference ids in [from, to) (one container's image volumes). */
  refIdsBetween(from: string, to: string): string[];
  /** Idmapped mounts, for pods with their own user namespace. */
  usernsMounts(): UsernsMountDeps;
}

export class ImageVolumes implements MountStager {
  constructor(private readonly d: ImageVolumeDeps) {}

  async stage(containerId: string, m: Mount, slot: string, sandbox: SandboxRecord): Promise<{ source: string; idmapped: boolean } | undefined> {
    const ref = m.image?.image;
    if (!ref) return undefined;
    if (m.hostPath) throw new InvalidArgumentError(`mount "${m.containerPath}" names both an image and a host_path`);
    const image = this.d.images.resolve(ref);
    if (!image) throw new NotFoundError(`image volume "${ref}" at "${m.containerPath}" not found: the image must be pulled first`);
    const refId = imageVolumeRef(containerId, basename(slot));
    const layer = await this.d.images.createContainerLayer(refId, image.id);
    stagingParent(slot);
    mkdirp(slot, 0o755);
    if (sandbox.userns) {
      // As the pod's rootfs: overlayfs over idmapped clones of the layers (an overlay mount
      // itself cannot be idmapped), then made read-only.
      mountUsernsRootfs(this.d.usernsMounts(), refId, layer, slot, sandbox);
      this.d.sys.mount(null, slot, null, MS.MS_REMOUNT | MS.MS_BIND | MS.MS_RDONLY, null);
    } else {
      this.mountReadOnly(layer, slot);
    }
    return { source: resolveSubPath(slot, m.imageSubPath), idmapped: sandbox.userns !== undefined };
  }

  private mountReadOnly(layer: ContainerLayer, target: string): void {
    const abs = (p: string) => (layer.mountCwd ? resolvePath(layer.mountCwd, p) : p);
    const absData = `lowerdir=${layer.lowerdir.split(':').map(abs).join(':')},upperdir=${abs(layer.upperdir)},workdir=${abs(layer.workdir)}`;
    if (!layer.mountCwd || absData.length < 4000) {
      this.d.sys.mount('overlay', target, 'overlay', MS.MS_RDONLY, absData);
      return;
    }
    // As for a container's rootfs (manager.ts): options too long as absolute paths are given
    // relative to mountCwd; chdir + mount + chdir are synchronous, so no other JS runs between.
    const cwd = process.cwd();
    process.chdir(layer.mountCwd);
    try {
      this.d.sys.mount('overlay', target, 'overlay', MS.MS_RDONLY, `lowerdir=${layer.lowerdir},upperdir=${layer.upperdir},workdir=${layer.workdir}`);
    } finally {
      process.chdir(cwd);
    }
  }

  /** Drops the container's image references (RemoveContainer, or a failed create). */
  async remove(containerId: string): Promise<void> {
    // Its references all start with imageVolumeRef(containerId, "") and sort before the same
    // text with the final "." raised to "/": asking for that range keeps RemoveContainer from
    // reading every reference in the store (5,000 of them took most of a teardown).
    const from = imageVolumeRef(containerId, '');
    for (const id of this.d.refIdsBetween(from, `${from.slice(0, -1)}/`)) {
      if (imageVolumeOwner(id) === containerId) await this.d.images.removeContainerLayer(id);
    }
  }

  /** Start-up: drops references whose container has no row (a crash during create). */
  async recover(known: (containerId: string) => boolean): Promise<void> {
    for (const id of this.d.refIds()) {
      const owner = imageVolumeOwner(id);
      if (owner === undefined || known(owner)) continue;
      await this.d.images.removeContainerLayer(id).catch((e) => this.d.log.warn({ ref: id, err: errorMessage(e) }, 'dropping an image volume reference failed'));
      this.d.log.info({ container: owner, ref: id }, 'dropped the image volume reference of a container that is gone');
    }
  }
}
