import type { ListImagesRequest, ListImagesResponse } from '../gen/api';
import type { ImageService } from '../image/service';
import type { UnaryHandler } from './context';
import { criImageOf } from '../image/cri_image';

export function listImages(images: ImageService): UnaryHandler<ListImagesRequest, ListImagesResponse> {
  return async (req) => {
    const want = req.filter?.image?.image;
    if (want) {
      const r = images.findRow(want);
      return { images: r ? [criImageOf(r, images.isPinned(r))] : [] };
    }
    return { images: images.list().map((r) => criImageOf(r, images.isPinned(r))) };
  };
}
