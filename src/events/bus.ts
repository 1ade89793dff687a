// A fan-out of events to subscribers, none of which can hold up the publisher: each has a
// bounded queue, and one that falls that far behind is dropped (its stream ends with
// ResourceExhausted; kubelet then relists and subscribes again).

import { ResourceExhaustedError } from '../errors';

export const DEFAULT_SUBSCRIBER_BUFFER = 1024;

export class EventBus<T> {
  private readonly subs = new Set<Subscription<T>>();

  constructor(readonly capacity = DEFAULT_SUBSCRIBER_BUFFER) {}

  get subscribers(): number {
    return this.subs.size;
  }

  subscribe(capacity = this.capacity): Subscription<T> {
    const s = new Subscription<T>(capacity, () => this.subs.delete(s));
    this.subs.add(s);
    return s;
  }

  /** Ends every subscription with `reason` (shutdown). */
  closeAll(reason: unknown): void {
    for (const s of [...this.subs]) s.close(reason);
  }

  /** Builds the event only when someone listens: building one reads the pod's statuses. */
  publish(build: () => T): void {
    if (this.subs.size === 0) return;
    const ev = build();
    for (const s of [...this.subs]) s.push(ev);
  }
}

export class Subscription<T> {
  private readonly queue: T[] = [];
  private waiter: { resolve: (v: T) => void; reject: (e: unknown) => void } | undefined;
  private error: unknown;
  /** Rejects when the subscription fails (overflow) or is closed with a reason. */
  readonly failed: Promise<never>;
  private fail!: (e: unknown) => void;

  constructor(
    readonly capacity: number,
    private readonly detach: () => void,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.fail = reject));
    this.failed.catch(() => undefined); // observed through next() and by racing it
  }

  get closed(): boolean {
    return this.error !== undefined;
  }

  get pending(): number {
    return this.queue.length;
  }

  push(ev: T): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve(ev);
      return;
    }
    if (this.queue.length >= this.capacity) {
      this.close(new ResourceExhaustedError(`event subscriber fell ${this.capacity} events behind; the stream is ended, subscribe again`));
      return;
    }
    this.queue.push(ev);
  }

  /** The next event; rejects once the subscription is closed or failed, or `signal` aborts. */
  next(signal?: AbortSignal): Promise<T> {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift()!);
    if (this.closed) return Promise.reject(this.error);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.waiter = undefined;
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        resolve: (v) => (signal?.removeEventListener('abort', onAbort), resolve(v)),
        reject: (e) => (signal?.removeEventListener('abort', onAbort), reject(e)),
      };
    });
  }

  /** Unsubscribes; pending and later next() calls reject with `reason`. Idempotent. */
  close(reason: unknown = new Error('subscription closed')): void {
    if (this.closed) return;
    this.error = reason;
    this.queue.length = 0;
    this.detach();
    this.fail(reason);
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(reason);
  }
}
