// The daemon side of the unpack workers: a few worker threads (one per core by default), each
// taking any number of layer streams. The pull engine downloads on the event loop and pushes
// the bytes here; a window of unacknowledged bytes per layer keeps memory bounded and lets a
// slow disk slow the download down instead of piling up.

import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as errors from '../errors';
import type { Logger } from '../log';
import type { Compression } from './decompress';
import type { LayerSink, LayerUnpacker, UnpackResult } from './layer_unpack';
import type { FromWorker, ToWorker } from './unpack_worker';

/** Bytes posted in one message: fewer, larger messages cost less than one per socket read. */
const BATCH = 256 << 10;
/** Unacknowledged bytes per layer before write() makes the caller wait. */
const WINDOW = 4 << 20;

const ERRORS: Record<string, new (m: string) => Error> = {
  NotFoundError: errors.NotFoundError,
  InvalidArgumentError: errors.InvalidArgumentError,
  FailedPreconditionError: errors.FailedPreconditionError,
  UnavailableError: errors.UnavailableError,
  DeadlineExceededError: errors.DeadlineExceededError,
  InternalError: errors.InternalError,
};

function revive(e: { name: string; message: string }): Error {
  const E = ERRORS[e.name];
  return E ? new E(e.message) : new Error(e.message);
}

interface Job {
  inflight: number;
  waiter?: { resolve: () => void; reject: (e: unknown) => void };
  settled: boolean;
  resolve: (r: UnpackResult) => void;
  reject: (e: Error) => void;
  done: Promise<UnpackResult>;
  onProgress: () => void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  idle?: NodeJS.Timeout;
}

/** An idle worker is ended after this long: its ~10 MB are not worth keeping between pulls. */
const IDLE_MS = 20_000;

export class UnpackPool implements LayerUnpacker {
  private readonly slots: Slot[] = [];
  private nextId = 1;

  constructor(
    private readonly log: Logger,
    private readonly size = Math.max(1, availableParallelism()),
  ) {}

  private spawn(): Slot {
    const worker = new Worker(join(__dirname, 'unpack_worker.js'));
    // idle workers must not keep the daemon (or a test) alive
    worker.unref();
    const slot: Slot = { worker, jobs: new Map() };
    worker.on('message', (m: FromWorker) => {
      const job = slot.jobs.get(m.id);
      if (!job) return;
      if (m.type === 'ack') {
        job.inflight -= m.n;
        job.onProgress();
        if (job.waiter && job.inflight <= WINDOW / 2) {
          const w = job.waiter;
          job.waiter = undefined;
          w.resolve();
        }
      } else if (m.type === 'done') {
        this.settle(slot, m.id, job);
        job.resolve(m.result);
      } else {
        this.settle(slot, m.id, job);
        job.reject(revive(m.error));
      }
    });
    const fail = (why: string) => {
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots.splice(i, 1);
      for (const [id, job] of slot.jobs) {
        this.settle(slot, id, job);
        job.reject(new errors.InternalError(`layer unpack worker ${why}`));
      }
    };
    worker.on('error', (e) => {
      this.log.error({ err: errors.errorMessage(e) }, 'layer unpack worker failed');
      fail(`failed: ${errors.errorMessage(e)}`);
    });
    worker.on('exit', (code) => fail(`exited with code ${code}`));
    this.slots.push(slot);
    return slot;
  }

  private settle(slot: Slot, id: number, job: Job): void {
    job.settled = true;
    slot.jobs.delete(id);
    if (slot.jobs.size === 0) {
      slot.worker.unref();
      clearTimeout(slot.idle);
      slot.idle = setTimeout(() => {
        const i = this.slots.indexOf(slot);
        if (i !== -1) this.slots.splice(i, 1);
        void slot.worker.terminate();
      }, IDLE_MS);
      slot.idle.unref();
    }
    if (job.waiter) {
      const w = job.waiter;
      job.waiter = undefined;
      // the end() or abort() that follows reports the outcome
      w.resolve();
    }
  }

  /** The least busy worker, or a new one while there are fewer than `size`. */
  private pick(): Slot {
    let best: Slot | undefined;
    for (const s of this.slots) if (!best || s.jobs.size < best.jobs.size) best = s;
    if (best && (best.jobs.size === 0 || this.slots.length >= this.size)) return best;
    return this.spawn();
  }

  start(diffDir: string, compression: Compression, signal: AbortSignal, onProgress: () => void): LayerSink {
    const slot = this.pick();
    const id = this.nextId++;
    let resolve!: (r: UnpackResult) => void;
    let reject!: (e: Error) => void;
    const done = new Promise<UnpackResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => undefined); // observed through end()/abort()
    const job: Job = { inflight: 0, settled: false, resolve, reject, done, onProgress };
    clearTimeout(slot.idle);
    slot.jobs.set(id, job);
    slot.worker.ref();
    const post = (m: ToWorker, transfer?: ArrayBuffer[]) => slot.worker.postMessage(m, transfer);
    post({ type: 'start', id, dir: diffDir, compression });

    let batch: Buffer | undefined;
    let used = 0;
    const flush = () => {
      if (!batch || used === 0) return;
      const chunk = new Uint8Array(batch.buffer, batch.byteOffset, used);
      job.inflight += used;
      post({ type: 'data', id, chunk }, [batch.buffer as ArrayBuffer]);
      batch = undefined;
      used = 0;
    };
    const onAbort = () => {
      if (job.waiter) {
        const w = job.waiter;
        job.waiter = undefined;
        w.reject(signal.reason);
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    void done.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => undefined);

    return {
      write(chunk) {
        if (job.settled) return undefined; // the worker already stopped: end() says why
        let off = 0;
        while (off < chunk.length) {
          // a fresh (unpooled) buffer per batch, since its memory moves to the worker
          batch ??= Buffer.allocUnsafeSlow(BATCH);
          const n = Math.min(chunk.length - off, BATCH - used);
          batch.set(chunk.subarray(off, off + n), used);
          used += n;
          off += n;
          if (used === BATCH) flush();
        }
        if (job.inflight <= WINDOW) return undefined;
        if (signal.aborted) return Promise.reject(signal.reason);
        return new Promise<void>((res, rej) => (job.waiter = { resolve: res, reject: rej }));
      },
      end() {
        if (!job.settled) {
          flush();
          post({ type: 'end', id });
        }
        return done;
      },
      async abort() {
        if (job.settled) return;
        post({ type: 'abort', id });
        await done.catch(() => undefined);
      },
    };
  }
}
