// Decompression streams: gzip through zlib, zstd through Debian's `zstd -dc` (Node 20 has no
// zstd), and plain tar as is. Chosen by media type, checked against the first bytes.

import { spawn } from 'node:child_process';
import { Duplex, PassThrough, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';

export type Compression = 'gzip' | 'zstd' | 'none';

export function compressionOf(mediaType: string): Compression {
  if (/zstd/.test(mediaType)) return 'zstd';
  if (/gzip/.test(mediaType)) return 'gzip';
  return 'none';
}

function zstdStream(): Duplex {
  const child = spawn('zstd', ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const out = new PassThrough();
  child.stdout.pipe(out, { end: false });
  let stdoutEnded = false;
  let exit: number | null | undefined;
  const maybeEnd = () => {
    if (!stdoutEnded || exit === undefined) return;
    if (exit === 0) out.end();
    else out.destroy(new Error(`zstd -dc failed (exit ${exit}): ${stderr.trim()}`));
  };
  child.stdout.on('end', () => {
    stdoutEnded = true;
    maybeEnd();
  });
  child.on('close', (code) => {
    exit = code;
    maybeEnd();
  });
  child.on('error', (e) => out.destroy(e));
  child.stdin.on('error', () => undefined); // EPIPE when zstd quits first: the exit code says why
  const duplex = Duplex.from({ writable: child.stdin, readable: out });
  duplex.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return duplex;
}

export function decompressor(c: Compression): Duplex {
  // bigger chunks: fewer trips through the hash, tar and write steps per megabyte
  if (c === 'gzip') return createGunzip({ chunkSize: 128 * 1024 });
  if (c === 'zstd') return zstdStream();
  return new PassThrough();
}

/** A pass-through that sees every chunk (hashing, counting, progress). */
export function tap(onChunk: (b: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        onChunk(chunk);
        cb(null, chunk);
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}
