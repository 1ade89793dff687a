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

/** Encodes `item` now (a warm-up with time to spare), so answers that carry it only copy its bytes. */
export function keepEncoding<T extends object>(item: T, type: Encoder<T>): void {
  bytesOf(item, type);
}

/** `item`'s encoding, kept for as long as the item object lives. */
function bytesOf<T extends object>(item: T, type: Encoder<T>): Uint8Array {
  let bytes = encodedOf.get(item);
  if (!bytes) {
    bytes = type.encode(item).finish();
    encodedOf.set(item, bytes);
  }
  return bytes;
}

export function encodeRepeated<T extends object>(field: number, items: readonly T[], type: Encoder<T>): PreEncoded {
  const parts: Uint8Array[] = [];
  let total = 0;
  const tag = (field << 3) | 2;
  for (const item of items) {
    const bytes = bytesOf(item, type);
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

/** An info value: text, or text in parts (bytes kept from a file need no re-encoding on each call). */
export type InfoText = string | ReadonlyArray<string | Buffer>;

function byteLengthOf(text: InfoText): number {
  if (typeof text === 'string') return Buffer.byteLength(text, 'utf8');
  let n = 0;
  for (const part of text) n += typeof part === 'string' ? Buffer.byteLength(part, 'utf8') : part.length;
  return n;
}

function writeText(out: Buffer, at: number, text: InfoText): number {
  if (typeof text === 'string') return at + out.write(text, at, 'utf8');
  for (const part of text) at += typeof part === 'string' ? out.write(part, at, 'utf8') : part.copy(out, at);
  return at;
}

/**
 * A status answer, `message status = 1; map<string, string> info = 2;` (ContainerStatusResponse):
 * the status object's bytes are kept per object like list items, so a verbose ask encodes only
 * its info text, straight into the answer's one buffer.
 */
export function encodeStatusAnswer<T extends object>(status: T, type: Encoder<T>, info: Record<string, InfoText>): PreEncoded {
  const statusBytes = bytesOf(status, type);
  const entries = Object.entries(info).map(([key, value]) => {
    const k = Buffer.byteLength(key, 'utf8');
    const v = byteLengthOf(value);
    const body = 1 + varintSize(k) + k + 1 + varintSize(v) + v;
    return { key, k, value, v, body };
  });
  let total = 1 + varintSize(statusBytes.length) + statusBytes.length;
  for (const e of entries) total += 1 + varintSize(e.body) + e.body;
  const out = Buffer.allocUnsafe(total);
  let at = writeVarint(out, 0, (1 << 3) | 2);
  at = writeVarint(out, at, statusBytes.length);
  out.set(statusBytes, at);
  at += statusBytes.length;
  for (const e of entries) {
    at = writeVarint(out, at, (2 << 3) | 2);
    at = writeVarint(out, at, e.body);
    at = writeVarint(out, at, (1 << 3) | 2);
    at = writeVarint(out, at, e.k);
    at += out.write(e.key, at, 'utf8');
    at = writeVarint(out, at, (2 << 3) | 2);
    at = writeVarint(out, at, e.v);
    at = writeText(out, at, e.value);
  }
  return new PreEncoded(out);
}
