// One zlib stream per connection and direction, seeded with the SPDY dictionary: SPDY header
// blocks share compression state across frames, so each block is a Z_SYNC_FLUSH'd piece of one
// long deflate stream. Node's zlib is asynchronous; callers serialise their calls (the
// connection does), and each call collects exactly the output of its own flush.

import * as zlib from 'node:zlib';
import { SPDY_DICTIONARY } from './dictionary';

abstract class FlushingZlib {
  private chunks: Buffer[] = [];
  private failed: Error | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(protected readonly z: zlib.Inflate | zlib.Deflate) {
    z.on('data', (c: Buffer) => this.chunks.push(c));
    z.on('error', (e: Error) => {
      this.failed = e;
    });
  }

  /** Feeds buf and resolves with everything the sync flush produced. */
  process(buf: Buffer): Promise<Buffer> {
    const run = () =>
      new Promise<Buffer>((resolve, reject) => {
        if (this.failed) return reject(this.failed);
        this.z.write(buf);
        this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
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
    this.z.close();
  }
}

export class HeaderCompressor extends FlushingZlib {
  constructor() {
    super(zlib.createDeflate({ dictionary: SPDY_DICTIONARY }));
  }
}

export class HeaderDecompressor extends FlushingZlib {
  constructor() {
    super(zlib.createInflate({ dictionary: SPDY_DICTIONARY }));
  }
}
