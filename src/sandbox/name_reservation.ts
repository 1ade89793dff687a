// RunPodSandbox name reservation for kubelet's retries: kubelet gives up on a RunPodSandbox after
// its timeout and calls again with the same metadata. While the first attempt still runs, the
// retry joins it and gets its outcome; once it settles the in-flight entry is gone (on success
// the store's unique name key keeps the name; on failure the name is free again).

export function sandboxNameKey(m: { name: string; namespace: string; uid: string; attempt: number }): string {
  return `${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;
}

export class InFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  get(key: string): Promise<T> | undefined {
    return this.running.get(key);
  }

  /** Starts `fn` under `key`; the caller checked get(key) synchronously before. */
  start(key: string, fn: () => Promise<T>): Promise<T> {
    const p = fn().finally(() => {
      if (this.running.get(key) === p) this.running.delete(key);
    });
    this.running.set(key, p);
    return p;
  }

  get size(): number {
    return this.running.size;
  }
}
