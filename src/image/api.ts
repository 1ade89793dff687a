// What other subsystems (containers) need from the image store. The image subsystem implements
// it; containers depend only on this interface.

export interface OciImageConfig {
  User?: string;
  ExposedPorts?: Record<string, unknown>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, unknown>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface ImageRecord {
  /** `sha256:<config digest>`: the CRI image id. */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  /** The image config's `config` object (may be empty). */
  config: OciImageConfig;
  pinned: boolean;
}

export interface ContainerLayer {
  /** overlay lowerdir value (colon-separated, top layer first), fitting the mount option limit. */
  lowerdir: string;
  upperdir: string;
  workdir: string;
  /** Directory the overlay mount options are relative to (overlay2 short links), or "" if absolute. */
  mountCwd: string;
}

/**
 * An image volume's reference on an image is a container layer row with this id
 * (container/image_volumes.ts), so the image cannot be removed while the container exists.
 */
export function imageVolumeRef(containerId: string, n: string): string {
  return `${containerId}.image-volume.${n}`;
}

/** The container holding a container-layer id: itself, or the owner of an image volume's reference. */
export function layerOwner(layerId: string): { container: string; imageVolume: boolean } {
  const m = /^(.+)\.image-volume\.[^.]+$/.exec(layerId);
  return m ? { container: m[1]!, imageVolume: true } : { container: layerId, imageVolume: false };
}

export interface ImageLookup {
  /** By id, id prefix (≥ 12 hex), repo tag (normalized or short), or repo digest. */
  resolve(ref: string): ImageRecord | undefined;
  /**
   * Creates the container's writable layer over the image's layers and takes a reference on the
   * image so it cannot be removed while the container exists. Idempotent per container id.
   */
  createContainerLayer(containerId: string, imageId: string): Promise<ContainerLayer>;
  /** Removes the writable layer and drops the reference. Idempotent. */
  removeContainerLayer(containerId: string): Promise<void>;
  /** Reads a file from the image's merged layers without mounting (e.g. /etc/passwd); null if absent. */
  readImageFile(imageId: string, path: string): Promise<Buffer | null>;
  /**
   * Bytes and inodes used by the container's writable layer, as last measured in the
   * background (atNs: when); undefined when not measured yet. Never walks the layer.
   */
  containerLayerUsage(containerId: string): Promise<{ bytes: number; inodes: number; atNs?: bigint } | undefined>;
}
