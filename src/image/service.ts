// The image store as the rest of nori sees it: resolution of references to image records,
// removal with layer garbage collection, container writable layers, file reads from an image,
// usage numbers, and start-up recovery. Implements ImageLookup for the container subsystem.

import * as fs from 'node:fs';
import { join } from 'node:path';
import { FailedPreconditionError, NotFoundError, InvalidArgumentError } from '../errors';
import type { Logger } from '../log';
import type { ImageRow, ImageStore } from '../store/image_store';
import type { Sys } from '../sys/types';
import { dirUsage, removeTree } from '../sys/dir_usage';
import { mkdirp } from '../util/fs';
import { layerOwner, type ContainerLayer, type ImageLookup, type ImageRecord, type OciImageConfig } from './api';
import type { LayerDirs } from './layer_store';
import { LayerUsageCache, type LayerUsageSample } from './layer_usage';
import { readMerged } from './merged_read';
import type { PinnedMatcher } from './pinned';
import { parseReference, repoName, tagged } from './reference';

const FULL_ID = /^(?:sha256:)?([a-f0-9]{64})$/;
const ID_PREFIX = /^(?:sha256:)?([a-f0-9]{12,63})$/;
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function toRecord(r: ImageRow): ImageRecord {
  let config: OciImageConfig = {};
  try {
    config = (JSON.parse(r.config) as { config?: OciImageConfig }).config ?? {};
  } catch {
    // a config we stored was JSON when stored; keep going with none
  }
  return { id: r.id, repoTags: r.repoTags, repoDigests: r.repoDigests, size: r.size, config, pinned: r.pinned };
}

const records = new WeakMap<ImageRow, ImageRecord>();

export class ImageService implements ImageLookup {
  /** writable-layer usage, measured in the background (no RPC walks a container's files) */
  readonly layerUsage: LayerUsageCache;

  constructor(
    readonly store: ImageStore,
    readonly dirs: LayerDirs,
    private readonly sys: Sys,
    private readonly log: Logger,
    /** chain ids a running pull is using (not yet recorded in an image) */
    private readonly busy: () => Iterable<string>,
    private readonly pinnedBy: PinnedMatcher = () => false,
    measure = dirUsage,
  ) {
    this.layerUsage = new LayerUsageCache({
      ids: () => this.store.containerIds(),
      dirOf: (id) => join(this.dirs.containers, id, 'upper'),
      measure,
      log,
    });
  }

  /** Whether pinned-images names the image (by a tag, a digest name or its id). */
  isPinned(r: ImageRow): boolean {
    return r.pinned || this.pinnedBy([...r.repoTags, ...r.repoDigests, r.id]);
  }

  findRow(ref: string): ImageRow | undefined {
    if (!ref) return undefined;
    const full = FULL_ID.exec(ref);
    if (full) {
      const r = this.store.get(`sha256:${full[1]}`);
      if (r) return r;
    }
    let parsed;
    try {
      parsed = parseReference(ref);
    } catch {
      parsed = undefined;
    }
    if (parsed) {
      const r = parsed.digest ? this.store.byName(`${repoName(parsed)}@${parsed.digest}`) : this.store.byName(tagged(parsed)!);
      if (r) return r;
      if (parsed.digest && parsed.tag) {
        const t = this.store.byName(tagged(parsed)!);
        if (t) return t;
      }
    }
    const pre = ID_PREFIX.exec(ref);
    if (pre) {
      const rows = this.store.byIdPrefix(`sha256:${pre[1]}`);
      if (rows.length === 1) return rows[0];
    }
    return undefined;
  }

  resolve(ref: string): ImageRecord | undefined {
    const r = this.findRow(ref);
    if (!r) return undefined;
    // Rows come from the store's cache until an image changes: parse each config once.
    let rec = records.get(r);
    if (!rec) records.set(r, (rec = toRecord(r)));
    return rec;
  }

  list(): ImageRow[] {
    return this.store.list();
  }

  /** Removes the image with all its names; false when there was none. */
  remove(ref: string): boolean {
    const r = this.findRow(ref);
    if (!r) return false;
    const users = this.store.containersUsing(r.id);
    if (users.length) {
      const u = layerOwner(users[0]!);
      throw new FailedPreconditionError(`image ${r.id} is in use by container ${u.container}${u.imageVolume ? ' as an image volume' : ''}`);
    }
    const removed = this.store.removeImage(r.id);
    this.gc();
    return removed;
  }

  /** Removes every recorded layer no image uses and no running pull needs. */
  gc(): void {
    const live = this.store.liveLayers();
    for (const c of this.busy()) live.add(c);
    for (const l of this.store.allLayers()) {
      if (live.has(l.chainId)) continue;
      this.dirs.remove(l.chainId);
      this.store.removeLayer(l.chainId);
      this.log.debug({ layer: l.chainId }, 'removed unused layer');
    }
  }

  async recover(): Promise<void> {
    this.dirs.sweepTemp();
    const known = new Set(this.store.allLayers().map((l) => l.chainId));
    for (const c of this.dirs.onDisk()) {
      if (!known.has(c)) {
        this.log.info({ layer: c }, 'removing a layer left by an interrupted pull');
        this.dirs.remove(c);
      }
    }
    for (const l of this.store.allLayers()) {
      if (!this.dirs.exists(l.chainId)) {
        this.log.warn({ layer: l.chainId }, 'layer directory missing; forgetting the layer and the images using it');
        for (const img of this.store.list()) if (img.layers.includes(l.chainId)) this.store.removeImage(img.id);
        this.store.removeLayer(l.chainId);
      }
    }
    const containers = new Set(this.store.containerIds());
    for (const n of fs.readdirSync(this.dirs.containers)) {
      if (!containers.has(n)) await removeTree(join(this.dirs.containers, n));
    }
    this.gc();
  }

  private diffsTopFirst(img: ImageRow): string[] {
    return [...img.layers].reverse().map((c) => this.dirs.diff(c));
  }

  async createContainerLayer(containerId: string, imageId: string): Promise<ContainerLayer> {
    if (!CONTAINER_ID.test(containerId)) throw new InvalidArgumentError(`invalid container id "${containerId}"`);
    const img = this.findRow(imageId);
    if (!img) throw new NotFoundError(`image ${imageId} not found`);
    const had = this.store.containerImage(containerId);
    if (had && had !== img.id) throw new FailedPreconditionError(`container ${containerId} already has a layer over image ${had}`);
    const dir = join(this.dirs.containers, containerId);
    const upperdir = join(dir, 'upper');
    const workdir = join(dir, 'work');
    this.store.addContainer(containerId, img.id);
    mkdirp(workdir, 0o700);
    if (!fs.existsSync(upperdir)) {
      fs.mkdirSync(upperdir, 0o755);
      this.layerUsage.seed(containerId);
      // the merged root takes the upper dir's attributes: give it the image root's
      const top = this.diffsTopFirst(img)[0];
      const st = top ? fs.statSync(top) : undefined;
      if (st) {
        fs.chownSync(upperdir, st.uid, st.gid);
        fs.chmodSync(upperdir, st.mode & 0o7777);
      }
    }
    let lowerdir: string;
    if (img.layers.length) {
      lowerdir = [...img.layers].reverse().map((c) => `l/${this.dirs.link(c)}`).join(':');
    } else {
      mkdirp(join(this.dirs.root, 'empty'), 0o755);
      lowerdir = 'empty';
    }
    return { lowerdir, upperdir, workdir, mountCwd: this.dirs.root };
  }

  async removeContainerLayer(containerId: string): Promise<void> {
    if (!CONTAINER_ID.test(containerId)) return;
    // a container decides what its layer holds: remove it off the event loop, without paths
    await removeTree(join(this.dirs.containers, containerId));
    this.store.removeContainer(containerId);
    this.layerUsage.forget(containerId);
  }

  async readImageFile(imageId: string, path: string): Promise<Buffer | null> {
    const img = this.findRow(imageId);
    if (!img) throw new NotFoundError(`image ${imageId} not found`);
    return readMerged(this.diffsTopFirst(img), path, this.sys);
  }

  /** The last background sample of the layer (undefined until its first walk after a restart). */
  async containerLayerUsage(containerId: string): Promise<LayerUsageSample | undefined> {
    return this.layerUsage.get(containerId);
  }

  imageFsUsage(): { bytes: number; inodes: number } {
    let bytes = 0;
    let inodes = 0;
    for (const l of this.store.allLayers()) {
      bytes += l.size;
      inodes += l.inodes;
    }
    return { bytes, inodes };
  }

  /** Every writable layer's last sample, summed (stamped with the oldest sample's time). */
  containerFsUsage(): LayerUsageSample {
    return this.layerUsage.total();
  }
}
