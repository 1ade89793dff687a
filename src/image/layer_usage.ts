// Writable-layer usage, measured in the background and served from a cache, as cAdvisor's fs
// handler does: no stats RPC and no ImageFsInfo walks a directory a container controls.
//
// One walk at a time, off the event loop (sys/dir_usage: a niced native thread). The loop picks
// the layer whose sample is oldest; a layer is measured again once its sample is refreshMs old
// (longer with many layers: at most MAX_WALKS_PER_SECOND walks a second),
// and after a walk of T ms the loop rests at least idleFactor × T, so a layer of a million files
// costs at most 1 / (1 + idleFactor) of one core however often kubelet asks. Every sample keeps
// the time it was taken, and the RPCs report that time.

import type { Logger } from '../log';
import type { DirUsage } from '../sys/dir_usage';

export interface LayerUsageSample {
  bytes: number;
  inodes: number;
  /** when the walk that produced the numbers started (ns since the epoch) */
  atNs: bigint;
  /** false when the walk stopped at maxEntries (the numbers are a lower bound) */
  complete: boolean;
}

export interface LayerUsageOptions {
  /** the ids of every container layer (the store's list) */
  ids: () => Iterable<string>;
  dirOf: (id: string) => string;
  measure: (dir: string, maxEntries: number) => Promise<DirUsage>;
  log: Logger;
  refreshMs?: number;
  idleFactor?: number;
  maxEntries?: number;
}

interface Entry extends LayerUsageSample {
  /** Date.now() of the last walk; 0 = measure at the next turn */
  measuredAt: number;
}

const MAX_WALKS_PER_SECOND = 10;

const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

export class LayerUsageCache {
  private readonly entries = new Map<string, Entry>();
  private readonly refreshMs: number;
  private readonly idleFactor: number;
  private readonly maxEntries: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private inFlight: string | undefined;
  private droppedInFlight = false;
  private stopped = true;

  constructor(private readonly o: LayerUsageOptions) {
    this.refreshMs = o.refreshMs ?? 10_000;
    this.idleFactor = o.idleFactor ?? 4;
    this.maxEntries = o.maxEntries ?? 20_000_000;
  }

  get(id: string): LayerUsageSample | undefined {
    const e = this.entries.get(id);
    return e && { bytes: e.bytes, inodes: e.inodes, atNs: e.atNs, complete: e.complete };
  }

  /** A layer just created is empty: that is a true sample; the loop measures it next. */
  seed(id: string): void {
    if (!this.entries.has(id)) this.entries.set(id, { bytes: 0, inodes: 0, atNs: nowNs(), complete: true, measuredAt: 0 });
    this.kick();
  }

  forget(id: string): void {
    this.entries.delete(id);
    if (this.inFlight === id) this.droppedInFlight = true;
  }

  /** The sum over every layer with a sample, stamped with the oldest sample's time. */
  total(): LayerUsageSample {
    const t: LayerUsageSample = { bytes: 0, inodes: 0, atNs: nowNs(), complete: true };
    for (const id of this.o.ids()) {
      const e = this.entries.get(id);
      if (!e) {
        t.complete = false;
        continue;
      }
      t.bytes += e.bytes;
      t.inodes += e.inodes;
      if (e.atNs < t.atNs) t.atNs = e.atNs;
      t.complete &&= e.complete;
    }
    return t;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Runs the next turn now when the loop is resting (a new layer should not wait out a rest). */
  private kick(): void {
    if (this.stopped || this.running) return;
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.turn().finally(() => (this.running = undefined));
    }, ms);
    this.timer.unref();
  }

  /** The layer to measure now, or how long until one is due. */
  private next(): { id: string } | { waitMs: number } {
    const now = Date.now();
    let pick: string | undefined;
    let oldest = Infinity;
    let layers = 0;
    for (const id of this.o.ids()) {
      layers++;
      const at = this.entries.get(id)?.measuredAt ?? -1;
      if (at < oldest) {
        oldest = at;
        pick = id;
      }
    }
    if (pick === undefined) return { waitMs: this.refreshMs };
    // With many layers the period stretches so that at most MAX_WALKS_PER_SECOND walks run
    // (500 layers: 50 s, near cAdvisor's one minute): every walk is a thread, a turn of the loop
    // and a read of the store's list, which 500 layers every 10 s made 9 % of a core at rest.
    const period = Math.max(this.refreshMs, (layers * 1000) / MAX_WALKS_PER_SECOND);
    const due = oldest + period - now;
    return due <= 0 ? { id: pick } : { waitMs: due };
  }

  private async turn(): Promise<void> {
    let n: ReturnType<LayerUsageCache['next']>;
    try {
      n = this.next();
    } catch (e) {
      this.o.log.warn({ err: e }, 'layer usage: cannot list container layers');
      return this.schedule(this.refreshMs);
    }
    if ('waitMs' in n) return this.schedule(n.waitMs);
    const { id } = n;
    const started = Date.now();
    const atNs = nowNs();
    this.inFlight = id;
    this.droppedInFlight = false;
    try {
      const u = await this.o.measure(this.o.dirOf(id), this.maxEntries);
      if (!this.droppedInFlight) {
        this.entries.set(id, { bytes: u.bytes, inodes: u.inodes, atNs, complete: u.complete, measuredAt: started });
        if (!u.complete) this.o.log.warn({ container: id, entries: u.entries }, 'layer usage: walk stopped at its entry limit');
      }
    } catch (e) {
      // the layer went away meanwhile, or cannot be opened: keep any old sample, retry later
      const old = this.entries.get(id);
      if (old && !this.droppedInFlight) old.measuredAt = started;
      else if (!this.droppedInFlight) this.entries.set(id, { bytes: 0, inodes: 0, atNs, complete: false, measuredAt: started });
      this.o.log.debug({ container: id, err: e }, 'layer usage: walk failed');
    } finally {
      this.inFlight = undefined;
    }
    const took = Date.now() - started;
    this.schedule(Math.max(10, took * this.idleFactor));
  }
}
