// Bytes received on a socket, kept as the chunks they arrived in. Framing code peeks at a
// header and takes a whole frame once it is all there; each byte is copied at most once on its
// way out, so a frame that arrives in thousands of TCP chunks costs time linear in its size
// (appending each chunk to one growing Buffer instead costs the square).

export class ByteQueue {
  private chunks: Buffer[] = [];
  /** read offset into chunks[0] */
  private head = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.total += b.length;
  }

  /** The first n bytes (n ≤ length), without consuming them. */
  peek(n: number): Buffer {
    if (n > this.total) throw new RangeError(`peek ${n} of ${this.total} bytes`);
    const first = this.chunks[0];
    if (n === 0 || !first) return Buffer.alloc(0);
    if (first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    for (let i = 0; got < n; i++) {
      const c = this.chunks[i]!;
      const from = i === 0 ? this.head : 0;
      const k = Math.min(n - got, c.length - from);
      c.copy(out, got, from, from + k);
      got += k;
    }
    return out;
  }

  /** Removes and returns the first n bytes (n ≤ length). */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /** Drops the first n bytes (n ≤ length). */
  skip(n: number): void {
    if (n > this.total) throw new RangeError(`skip ${n} of ${this.total} bytes`);
    this.total -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      const left = c.length - this.head;
      if (n < left) {
        this.head += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.head = 0;
    }
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.total = 0;
  }
}
