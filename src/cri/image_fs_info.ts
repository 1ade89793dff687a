import type { FilesystemUsage, ImageFsInfoRequest, ImageFsInfoResponse } from '../gen/api';
import type { ImageService } from '../image/service';
import type { UnaryHandler } from './context';

// Both numbers are cached sums: layer sizes recorded at pull time, and the writable layers'
// background samples (stamped with the oldest sample's time). Nothing here walks a directory.
function fsUsage(mountpoint: string, u: { bytes: number; inodes: number; atNs?: bigint }): FilesystemUsage {
  return {
    timestamp: u.atNs ?? BigInt(Date.now()) * 1_000_000n,
    fsId: { mountpoint },
    usedBytes: { value: BigInt(u.bytes) },
    inodesUsed: { value: BigInt(u.inodes) },
  };
}

export function imageFsInfo(images: ImageService): UnaryHandler<ImageFsInfoRequest, ImageFsInfoResponse> {
  return async () => ({
    imageFilesystems: [fsUsage(images.dirs.root, images.imageFsUsage())],
    containerFilesystems: [fsUsage(images.dirs.containers, images.containerFsUsage())],
  });
}
