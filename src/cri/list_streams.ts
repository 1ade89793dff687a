// The Stream* list RPCs (KEP CRIListStreaming): the same items and filters as the unary lists,
// sent in chunks well below the 4 MiB a client accepts by default, so nodes whose lists exceed
// the 16 MiB message limit can still be listed. The list is taken once, at the call's start:
// each matching item goes out exactly once.

import type { CallContext, StreamHandler, UnaryHandler } from './context';

/** Target encoded size of one chunk; a single larger item goes alone. */
export const CHUNK_BYTES = 1024 * 1024;

export function chunkBySize<T>(items: readonly T[], sizeOf: (item: T) => number, limit = CHUNK_BYTES): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const item of items) {
    // + a few bytes for the repeated field's tag and length prefix
    const n = sizeOf(item) + 6;
    if (cur.length > 0 && bytes + n > limit) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(item);
    bytes += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

interface Encodable<T> {
  encode(m: T): { finish(): Uint8Array };
}

/** A stream handler that sends the unary list's items in chunks, then ends. */
export function streamList<Req, Res, Item, Out>(
  list: UnaryHandler<Req, Res>,
  items: (res: Res) => Item[],
  codec: Encodable<Item>,
  wrap: (chunk: Item[]) => Out,
): StreamHandler<Req, Out> {
  return async (req: Req, ctx: CallContext, send: (m: Out) => Promise<void>) => {
    const all = items(await list(req, ctx));
    for (const chunk of chunkBySize(all, (i) => codec.encode(i).finish().length)) {
      ctx.signal.throwIfAborted();
      await send(wrap(chunk));
    }
  };
}
