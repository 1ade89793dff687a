import type { FilesystemUsage, ImageFsInfoRequest, ImageFsInfoResponse } from '../gen/api';
import type { ImageService } from '../image/service';
import type { UnaryHandler } from './context';

function fsUsage(mountpoint: string, u: { bytes: number; inodes: number }): FilesystemUsage {
  return {
    timestamp: BigInt(Date.now()) * 1_000_000n,
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
