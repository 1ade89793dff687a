import { InvalidArgumentError } from '../errors';
import type { ImageStatusRequest, ImageStatusResponse } from '../gen/api';
import type { ImageService } from '../image/service';
import type { UnaryHandler } from './context';
import { isCleanText } from './validate_ids';
import { toCriImage } from '../image/cri_image';

/** Not found is an empty response, not an error (CRI). */
export function imageStatus(images: ImageService): UnaryHandler<ImageStatusRequest, ImageStatusResponse> {
  return async (req) => {
    const ref = req.image?.image ?? '';
    if (!ref) throw new InvalidArgumentError('image.image is required');
    if (!isCleanText(ref)) throw new InvalidArgumentError('image.image is not valid UTF-8 text');
    const r = images.findRow(ref);
    if (!r) return { image: undefined, info: {} };
    const info: Record<string, string> = {};
    if (req.verbose) {
      let imageSpec: unknown = {};
      try {
        imageSpec = JSON.parse(r.config);
      } catch {
        // stored configs are JSON
      }
      info.info = JSON.stringify({
        imageSpec,
        manifestDigest: r.manifestDigest,
        chainIds: r.layers,
        layerDirs: r.layers.map((c) => images.dirs.diff(c)),
      });
    }
    return { image: toCriImage(r, images.isPinned(r)), info };
  };
}
