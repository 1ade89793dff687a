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
    if (!fstatSync(fd).isFile()) throw new NotRegularFileError(`${path} is not a regular file`);
    const buf = Buffer.alloc(max + 1);
    let got = 0;
    for (;;) {
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
