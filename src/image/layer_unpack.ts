// One layer blob, as it arrives, through the compressed digest, decompression, the diff-id
// digest and extraction into an empty directory. Runs inside an unpack worker thread
// (unpack_worker.ts); the caller compares the digests with the manifest and the config.

import { createHash } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { faultPointAt } from '../fault';
import type { Sys } from '../sys/types';
import { decompressor, tap, type Compression } from './decompress';
import { extractLayer, type ExtractStats } from './extract';
import { readTar } from './tar_reader';

export interface UnpackResult {
  /** sha256:… of the compressed bytes that came in */
  digest: string;
  /** how many compressed bytes came in */
  size: number;
  /** sha256:… of the uncompressed tar */
  diffId: string;
  stats: ExtractStats;
}

export interface LayerSink {
  /** Takes a chunk (copied); a promise when the caller should wait before the next one. */
  write(chunk: Uint8Array): Promise<void> | undefined;
  /** No more data: resolves when the layer is unpacked, with what the worker measured. */
  end(): Promise<UnpackResult>;
  /** Stops the unpack; resolves once the worker no longer touches the directory. */
  abort(): Promise<void>;
}

export interface LayerUnpacker {
  start(diffDir: string, compression: Compression, signal: AbortSignal, onProgress: () => void): LayerSink;
}

export async function unpackLayer(input: Readable, diffDir: string, compression: Compression, sys: Sys): Promise<UnpackResult> {
  const compressed = createHash('sha256');
  const uncompressed = createHash('sha256');
  let size = 0;
  const out = pipeline(
    input,
    tap((b) => {
      size += b.length;
      compressed.update(b);
    }),
    decompressor(compression),
    tap((b) => uncompressed.update(b)),
    () => undefined,
  );
  let stats: ExtractStats;
  try {
    // the tar reader reads to the end of the stream, past the end blocks, so the whole blob
    // has gone through both hashes when it returns
    stats = await extractLayer(faultPointAt(readTar(out), 1, 'pull.mid-layer'), diffDir, sys);
  } catch (e) {
    out.destroy();
    input.destroy();
    throw e;
  }
  return { digest: `sha256:${compressed.digest('hex')}`, size, diffId: `sha256:${uncompressed.digest('hex')}`, stats };
}
