// List answers built from bytes kept per item. The polled lists (ListContainers, ListPodSandbox)
// answer the same items poll after poll: their views are kept per immutable store row, so the
// encoded bytes can be kept per view too, and an answer is a concatenation instead of a fresh
// protobuf encode of every item (at 250 pods most of the call's CPU).

import type { UnaryHandler } from './context';

/** An answer already encoded: the edge's encoder sends its bytes as they are. */
export class PreEncoded {
  constructor(readonly bytes: Buffer) {}
}

interface Encoder<T> {
  encode(message: T): { finish(): Uint8Array };
}

const encodedOf = new WeakMap<object, Uint8Array>();

/**
 * `handler`, answering with its items encoded as the response's repeated message field
 * `field`, each item's bytes kept for as long as the item object lives. Only for responses
 * whose one field is that list.
 */
export function preEncodedList<Req, Res, T extends object>(
  handler: UnaryHandler<Req, Res>,
  items: (res: Res) => T[],
  field: number,
  type: Encoder<T>,
): UnaryHandler<Req, Res | PreEncoded> {
  return async (req, ctx) => encodeRepeated(field, items(await handler(req, ctx)), type);
}

export function encodeRepeated<T extends object>(field: number, items: readonly T[], type: Encoder<T>): PreEncoded {
  const parts: Uint8Array[] = [];
  let total = 0;
  const tag = (field << 3) | 2;
  for (const item of items) {
    let bytes = encodedOf.get(item);
    if (!bytes) {
      bytes = type.encode(item).finish();
      encodedOf.set(item, bytes);
    }
    parts.push(bytes);
    total += varintSize(tag) + varintSize(bytes.length) + bytes.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const bytes of parts) {
    at = writeVarint(out, at, tag);
    at = writeVarint(out, at, bytes.length);
    out.set(bytes, at);
    at += bytes.length;
  }
  return new PreEncoded(out);
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}
