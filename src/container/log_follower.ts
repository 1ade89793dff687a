// Follows a container's CRI log file (k8s-file: `<time> <stream> <P|F> <text>`) from its current
// end and splits it back into stdout and stderr. Attach uses it for the container's output.

import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { PassThrough } from 'node:stream';

export class LogFollower {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  private fd: number | undefined;
  private pos = 0;
  private partial = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(path: string, intervalMs = 50) {
    try {
      this.fd = openSync(path, 'r');
      this.pos = fstatSync(this.fd).size;
    } catch {
      this.fd = undefined;
    }
    this.timer = setInterval(() => this.poll(), intervalMs);
  }

  /** Reads what is new; whole lines only. */
  poll(): void {
    if (this.fd === undefined) return;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, buf, 0, buf.length, this.pos);
      } catch {
        return;
      }
      if (n <= 0) return;
      this.pos += n;
      const text = this.partial + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.emit(line);
    }
  }

  private emit(line: string): void {
    // The s flag: a tty container's lines end in \r, which . would not match.
    const m = /^\S+ (stdout|stderr) ([PF]) ?(.*)$/s.exec(line);
    if (!m) return;
    const data = m[2] === 'F' ? `${m[3]}\n` : m[3];
    (m[1] === 'stdout' ? this.stdout : this.stderr).write(data);
  }

  /** Reads the rest, then ends both streams. */
  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.poll();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.stdout.end();
    this.stderr.end();
  }
}
