// Reading registry response bodies with a bound that holds WHILE the bytes arrive: a body is
// refused as soon as it passes its cap (or as soon as its Content-Length says it will), and the
// connection is dropped, so an endless or oversized answer costs at most the cap in memory.
// A body with a known descriptor is also hashed as it streams and refused at the first byte past
// the size the descriptor gives.

import { createHash } from 'node:crypto';
import { InternalError, InvalidArgumentError, UnavailableError, errorMessage } from '../errors';

/** The manifest and index limit that distribution (registry) and ORAS enforce. */
export const MAX_MANIFEST_BYTES = 4 << 20;
/** Image configs are a few KiB to a few hundred; far below this even with a long history. */
export const MAX_CONFIG_BYTES = 8 << 20;
/** Token responses are a JSON object with a JWT or an opaque token. */
export const MAX_TOKEN_BYTES = 1 << 20;
/** How much of an error answer is read for its message; the rest is dropped unread. */
export const MAX_ERROR_BODY_BYTES = 64 << 10;

/** Errors worth retrying: the connection or the server failed, not the request. */
export class TransientError extends UnavailableError {}

/**
 * Bytes copied into one buffer grown by doubling (never past the bound): a socket's chunks are
 * views into larger read buffers, so keeping the chunks themselves could hold several times the
 * body's size.
 */
class Accumulator {
  private buf: Buffer = Buffer.alloc(0);
  length = 0;
  constructor(private readonly max: number) {}

  add(chunk: Uint8Array): void {
    const need = this.length + chunk.length;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.max, Math.max(need, this.buf.length * 2, 16 << 10)));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    this.buf.set(chunk, this.length);
    this.length = need;
  }

  /** The bytes, in a buffer of their own size. */
  result(): Buffer {
    return this.length === this.buf.length ? this.buf : Buffer.from(this.buf.subarray(0, this.length));
  }
}

type TooLarge = new (message: string) => Error;

/** Drops a response body without reading it (closes the connection if bytes are pending). */
export async function discardBody(res: Response): Promise<void> {
  if (!res.body || res.bodyUsed) return;
  await res.body.cancel().catch(() => undefined);
}

function declaredLength(res: Response): number | undefined {
  const v = res.headers.get('content-length');
  if (v === null || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

/** The whole body if it is at most max bytes; otherwise an error naming `what`, thrown as soon
 *  as the header or the stream shows it is larger. */
export async function readCapped(res: Response, max: number, what: string, TooLargeError: TooLarge = InvalidArgumentError, onChunk?: () => void): Promise<Buffer> {
  const tooLarge = () => new TooLargeError(`${what} is larger than ${max} bytes`);
  const declared = declaredLength(res);
  if (declared !== undefined && declared > max) {
    await discardBody(res);
    throw tooLarge();
  }
  if (!res.body) return Buffer.alloc(0);
  const acc = new Accumulator(max);
  const reader = res.body.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      if (acc.length + r.value.length > max) throw tooLarge();
      acc.add(r.value);
      onChunk?.();
    }
  } catch (e) {
    await reader.cancel().catch(() => undefined);
    throw e;
  } finally {
    reader.releaseLock();
  }
  return acc.result();
}

/** The start of an error answer (for its message), at most MAX_ERROR_BODY_BYTES; never throws. */
export async function readErrorBody(res: Response): Promise<string> {
  try {
    return (await readCapped(res, MAX_ERROR_BODY_BYTES, 'error body')).toString('utf8');
  } catch {
    return '';
  }
}

/** The message a registry put in its error answer ({"errors":[{"code","message"}]}), if any. */
export function registryErrorMessage(body: string): string | undefined {
  try {
    const j = JSON.parse(body) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const e = j.errors?.[0];
    if (!e) return undefined;
    const text = [e.code, e.message].filter((x) => typeof x === 'string' && x).join(': ');
    return text ? text.slice(0, 512) : undefined;
  } catch {
    return undefined;
  }
}

export interface ExpectedBlob {
  digest: string;
  size: number;
}

/**
 * A blob that must match its descriptor: refused when the descriptor's size is above max, at the
 * first byte past that size, when it ends short, or when its sha256 differs.
 */
export async function readVerified(res: Response, want: ExpectedBlob, max: number, what: string, onChunk?: () => void): Promise<Buffer> {
  if (want.size > max) {
    await discardBody(res);
    throw new InvalidArgumentError(`${what} ${want.digest} is ${want.size} bytes by its descriptor; nori accepts at most ${max}`);
  }
  const declared = declaredLength(res);
  if (declared !== undefined && declared > want.size) {
    await discardBody(res);
    throw new InternalError(`${what} ${want.digest}: the registry sends ${declared} bytes, the descriptor says ${want.size}`);
  }
  const hash = createHash('sha256');
  const acc = new Accumulator(want.size);
  let got = 0;
  if (res.body) {
    const reader = res.body.getReader();
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        got += r.value.length;
        if (got > want.size) throw new InternalError(`${what} ${want.digest} is longer than the ${want.size} bytes its descriptor says`);
        hash.update(r.value);
        acc.add(r.value);
        onChunk?.();
      }
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      if (e instanceof InternalError) throw e;
      throw new TransientError(`${what} ${want.digest}: ${errorMessage(e)} after ${got} of ${want.size} bytes`);
    } finally {
      reader.releaseLock();
    }
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (got !== want.size || digest !== want.digest) {
    throw new InternalError(`${what} ${want.digest} failed verification: got ${got} bytes with digest ${digest}`);
  }
  return acc.result();
}
