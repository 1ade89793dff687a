// One zlib stream per connection and direction, seeded with the SPDY dictionary: SPDY header
// blocks share compression state across frames, so each block is a Z_SYNC_FLUSH'd piece of one
// long deflate stream. Node's zlib is asynchronous; callers serialise their calls (the
// connection does), and each call collects exactly the output of its own flush.
//
// Inflation has an output bound per header block: a zlib bomb (a few KiB that inflate to GiBs)
// fails the call as soon as the output passes the bound, and the inflater is destroyed, so the
// connection (whose zlib state is now unusable) must be dropped.

import * as zlib from 'node:zlib';
import { SPDY_DICTIONARY } from './dictionary';

export class HeaderBlockTooLargeError extends Error {}

abstract class FlushingZlib {
  private chunks: Buffer[] = [];
  private got = 0;
  private failed: Error | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** rejects the running call at once (bomb), before its flush completes */
  private abortCall: ((e: Error) => void) | null = null;

  constructor(
    protected readonly z: zlib.Inflate | zlib.Deflate,
    private readonly maxOutput = Infinity,
  ) {
    z.on('data', (c: Buffer) => {
      if (this.failed) return;
      this.got += c.length;
      if (this.got > this.maxOutput) {
        this.failed = new HeaderBlockTooLargeError(`SPDY header block inflates past ${this.maxOutput} bytes`);
        this.chunks = [];
        this.abortCall?.(this.failed);
        // no more inflating: the rest of the bomb is never expanded
        this.z.destroy();
        return;
      }
      this.chunks.push(c);
    });
    z.on('error', (e: Error) => {
      this.failed ??= e;
      this.abortCall?.(this.failed);
    });
  }

  /** Feeds buf and resolves with everything the sync flush produced. */
  process(buf: Buffer): Promise<Buffer> {
    const run = () =>
      new Promise<Buffer>((resolve, reject) => {
        if (this.failed) return reject(this.failed);
        this.got = 0;
        this.abortCall = reject;
        this.z.write(buf);
        this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          this.abortCall = null;
          if (this.failed) return reject(this.failed);
          const out = Buffer.concat(this.chunks);
          this.chunks = [];
          resolve(out);
        });
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  close(): void {
    if (!this.z.destroyed) this.z.close();
  }
}

export class HeaderCompressor extends FlushingZlib {
  constructor() {
    super(zlib.createDeflate({ dictionary: SPDY_DICTIONARY }));
  }
}

/** Net/http's default bound on a request's headers (http.DefaultMaxHeaderBytes). */
export const MAX_HEADER_BLOCK = 1 << 20;

export class HeaderDecompressor extends FlushingZlib {
  constructor(maxOutput = MAX_HEADER_BLOCK) {
    super(zlib.createInflate({ dictionary: SPDY_DICTIONARY }), maxOutput);
  }
}
