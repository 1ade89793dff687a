import { InvalidArgumentError } from '../errors';
import type { PullImageRequest, PullImageResponse } from '../gen/api';
import type { Puller } from '../image/puller';
import type { ImageService } from '../image/service';
import type { UnaryHandler } from './context';
import { isCleanText } from './validate_ids';

export function pullImage(puller: Puller, images: ImageService): UnaryHandler<PullImageRequest, PullImageResponse> {
  return async (req, ctx) => {
    const ref = req.image?.image ?? '';
    if (!ref) throw new InvalidArgumentError('image.image is required');
    if (!isCleanText(ref)) throw new InvalidArgumentError('image.image is not valid UTF-8 text');
    try {
      return { imageRef: await puller.pull(ref, req.auth, ctx.signal, ctx.log) };
    } catch (e) {
      // layers a failed pull did commit belong to no image: drop them now, not at restart
      images.gc();
      throw e;
    }
  };
}
