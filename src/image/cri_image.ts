// An image record as the CRI Image message: uid or username from the config's User.

import type { Image } from '../gen/api';
import { toRecord } from './service';
import type { ImageRow } from '../store/image_store';

export function userOf(user: string | undefined): { uid?: number; username: string } {
  const u = (user ?? '').split(':')[0]!;
  if (!u) return { username: '' };
  if (/^\d+$/.test(u)) return { uid: Number(u), username: '' };
  return { username: u };
}

/**
 * The CRI view of a stored row, kept per row object and pinned state: rows are replaced, never
 * changed, when an image changes, so ImageStatus and ListImages answer with the same object for
 * an unchanged image (no config parse per call, and its encoding can be kept with it).
 */
const views = new WeakMap<ImageRow, { pinned: boolean; image: Image }>();

export function criImageOf(row: ImageRow, pinned: boolean): Image {
  let kept = views.get(row);
  if (kept?.pinned !== pinned) {
    kept = { pinned, image: toCriImage(row, pinned) };
    views.set(row, kept);
  }
  return kept.image;
}

/** `pinned`: whether config pins it (pinned-images); the stored flag counts too. */
function toCriImage(row: ImageRow, pinned: boolean): Image {
  const rec = toRecord(row);
  const { uid, username } = userOf(rec.config.User);
  return {
    id: rec.id,
    repoTags: rec.repoTags,
    repoDigests: rec.repoDigests,
    size: BigInt(rec.size),
    uid: uid === undefined ? undefined : { value: BigInt(uid) },
    username,
    spec: { image: rec.id, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: rec.id },
    pinned: rec.pinned || pinned,
  };
}
