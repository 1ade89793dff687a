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

/** `pinned`: whether config pins it (pinned-images); the stored flag counts too. */
export function toCriImage(row: ImageRow, pinned = false): Image {
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
