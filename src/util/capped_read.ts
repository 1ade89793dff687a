// Reading a file that someone else (a container, an image) made: it may be a FIFO nobody writes,
// a device that never ends (/dev/zero), a symlink out of where it should be, or far too large.
// Open it O_NONBLOCK|O_NOFOLLOW (a FIFO opens at once, a final symlink is refused), insist by
// fstat that it is a regular file, and read at most `max` bytes.

import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

export class NotRegularFileError extends Error {}
export class FileTooLargeError extends Error {}

export interface CappedReadOptions {
  /** what to do with a file longer than max: keep the first max bytes, or throw FileTooLargeError */
  over?: 'truncate' | 'throw';
}

/** The first `max` bytes of a regular file at `path` (its last component not a symlink). */
export function readRegularCapped(path: string, max: number, opts: CappedReadOptions = {}): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(`${path} is not a regular file`);
    // Sized by fstat, grown while the file keeps giving bytes (its writer is someone else, and
    // /proc files say 0): a cap of 16 MiB must not cost a zeroed 16 MiB buffer for every 1 KiB
    // /etc/passwd that CreateContainer reads.
    let buf = Buffer.alloc(Math.min(max + 1, Math.max(st.size + 1, 4096)));
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        const bigger = Buffer.alloc(Math.min(max + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, got);
        buf = bigger;
      }
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got > max) {
        if (opts.over === 'throw') throw new FileTooLargeError(`${path} is larger than ${max} bytes`);
        got = max;
        break;
      }
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
