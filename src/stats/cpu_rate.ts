// usage_nano_cores: cgroups only count cumulative CPU time, so the rate is the difference
// between two samples. Each key (a container id, or `pod:<id>`) keeps its previous sample.

export interface CpuSample {
  /** Sample time, nanoseconds (any monotonic-enough clock; the epoch clock of the stats). */
  at: bigint;
  usageNs: bigint;
}

const FORGET_AFTER_NS = 10n * 60n * 1_000_000_000n;

export class CpuRates {
  private readonly last = new Map<string, CpuSample & { rate: bigint }>();
  private calls = 0;

  /**
   * Nano cores used between the previous sample of `key` and this one; 0 for the first sample
   * (as containerd reports it), the previous rate when no time passed, 0 after a counter reset.
   */
  rate(key: string, s: CpuSample): bigint {
    if (++this.calls % 256 === 0) this.forget(s.at);
    const prev = this.last.get(key);
    let rate = 0n;
    if (prev) {
      const dt = s.at - prev.at;
      if (dt <= 0n) return prev.rate;
      if (s.usageNs >= prev.usageNs) rate = ((s.usageNs - prev.usageNs) * 1_000_000_000n) / dt;
    }
    this.last.set(key, { ...s, rate });
    return rate;
  }

  /** Drops keys not sampled for ten minutes (removed containers and pods). */
  private forget(now: bigint): void {
    for (const [k, v] of this.last) if (now - v.at > FORGET_AFTER_NS) this.last.delete(k);
  }

  get size(): number {
    return this.last.size;
  }
}
