// Unpacks a layer on the daemon's own event loop. For small layers (busybox's 1 MB) handing
// the bytes to a worker thread costs more than it saves, and no worker has to start.

import { PassThrough } from 'node:stream';
import type { Sys } from '../sys/types';
import type { Compression } from './decompress';
import { unpackLayer, type LayerSink, type LayerUnpacker } from './layer_unpack';

export class InlineUnpacker implements LayerUnpacker {
  constructor(private readonly sys: Sys) {}

  start(diffDir: string, compression: Compression, signal: AbortSignal, onProgress: () => void): LayerSink {
    const input = new PassThrough({ highWaterMark: 1 << 20 });
    input.on('error', () => undefined); // reported through unpackLayer
    let settled = false;
    const done = unpackLayer(input, diffDir, compression, this.sys).finally(() => {
      settled = true;
      input.emit('drain'); // releases a writer waiting for room
    });
    done.catch(() => undefined); // observed through end()/abort()
    return {
      write(chunk) {
        if (settled || input.write(chunk)) return undefined;
        return new Promise<void>((resolve, reject) => {
          const onAbort = () => reject(signal.reason);
          if (signal.aborted) return onAbort();
          signal.addEventListener('abort', onAbort, { once: true });
          input.once('drain', () => {
            signal.removeEventListener('abort', onAbort);
            onProgress();
            resolve();
          });
        });
      },
      end() {
        if (!settled) input.end();
        return done;
      },
      async abort() {
        if (settled) return;
        input.destroy(new Error('layer unpack aborted'));
        await done.catch(() => undefined);
      },
    };
  }
}
