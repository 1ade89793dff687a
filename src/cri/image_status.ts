// ImageStatus. kubelet asks it for every container it starts and on image GC; the answer for an
// image that has not changed is the same object each time, so its encoding is kept too
// (pre_encoded.ts), and a found image is answered without an await.

import { InvalidArgumentError } from '../errors';
import { Image, type ImageStatusRequest, type ImageStatusResponse } from '../gen/api';
import type { ImageService } from '../image/service';
import type { UnaryHandler } from './context';
import { encodeStatusAnswer, type PreEncoded } from './pre_encoded';
import { isCleanText } from './validate_ids';
import { criImageOf } from '../image/cri_image';

/** Not found is an empty response, not an error (CRI). */
export function imageStatus(images: ImageService): UnaryHandler<ImageStatusRequest, ImageStatusResponse | PreEncoded> {
  return (req) => {
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
    // ImageStatusResponse is `Image image = 1; map<string, string> info = 2;`: a status answer's shape
    return encodeStatusAnswer(criImageOf(r, images.isPinned(r)), Image, info);
  };
}
