// Worker thread entry: unpacks the layers the pull engine streams to it (unpack_pool.ts), so
// decompression, hashing, tar parsing and the file-creating syscalls of several layers run on
// several cores instead of all on the daemon's event loop. Several layers may share one
// worker; each is its own stream.
//
// Protocol (ids are the pool's job numbers):
//   in:  start {id, dir, compression} · data {id, chunk} · end {id} · abort {id}
//   out: ack {id, n} when n bytes were taken in (flow control) · done {id, result} · error {id, error}

import { PassThrough } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../errors';
import { getSys } from '../sys';
import type { Compression } from './decompress';
import { unpackLayer } from './layer_unpack';

export type ToWorker =
  | { type: 'start'; id: number; dir: string; compression: Compression }
  | { type: 'data'; id: number; chunk: Uint8Array }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number };

export type FromWorker =
  | { type: 'ack'; id: number; n: number }
  | { type: 'done'; id: number; result: import('./layer_unpack').UnpackResult }
  | { type: 'error'; id: number; error: { name: string; message: string } };

const port = parentPort;
if (!port) throw new Error('unpack_worker runs as a worker thread');

const inputs = new Map<number, PassThrough>();
const post = (m: FromWorker) => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'start': {
      // 1 MiB of slack per layer between the pool's window and the decompressor
      const input = new PassThrough({ highWaterMark: 1 << 20 });
      input.on('error', () => undefined); // reported through unpackLayer
      inputs.set(m.id, input);
      unpackLayer(input, m.dir, m.compression, getSys()).then(
        (result) => post({ type: 'done', id: m.id, result }),
        (e: unknown) => post({ type: 'error', id: m.id, error: { name: e instanceof Error ? e.name : 'Error', message: errorMessage(e) } }),
      ).finally(() => inputs.delete(m.id));
      return;
    }
    case 'data': {
      const input = inputs.get(m.id);
      if (!input || input.destroyed) return;
      const n = m.chunk.byteLength;
      input.write(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, n), () => post({ type: 'ack', id: m.id, n }));
      return;
    }
    case 'end':
      inputs.get(m.id)?.end();
      return;
    case 'abort':
      inputs.get(m.id)?.destroy(new Error('layer unpack aborted'));
      return;
  }
});
