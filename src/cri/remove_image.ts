import { InvalidArgumentError } from '../errors';
import type { RemoveImageRequest, RemoveImageResponse } from '../gen/api';
import type { ImageService } from '../image/service';
import type { UnaryHandler } from './context';
import { isCleanText } from './validate_ids';

/** Removes the image and all its names; an image that is not there is success (CRI). */
export function removeImage(images: ImageService): UnaryHandler<RemoveImageRequest, RemoveImageResponse> {
  return async (req, ctx) => {
    const ref = req.image?.image ?? '';
    if (!ref) throw new InvalidArgumentError('image.image is required');
    if (!isCleanText(ref)) throw new InvalidArgumentError('image.image is not valid UTF-8 text');
    const removed = images.remove(ref);
    ctx.log.debug({ image: ref, removed }, 'remove image');
    return {};
  };
}
