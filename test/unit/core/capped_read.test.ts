// A file someone else made, read with a cap: FIFOs, devices and final symlinks are refused at
// once (no hang, no endless read), a long file is cut at the cap or refused.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileTooLargeError, NotRegularFileError, readRegularCapped } from '../../../src/util/capped_read';

describe('readRegularCapped', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'nori-capped-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a short regular file whole', () => {
    writeFileSync(join(dir, 'short'), 'hello');
    assert.equal(readRegularCapped(join(dir, 'short'), 4096).toString(), 'hello');
  });

  it('cuts a long file at the cap, or refuses it when asked', () => {
    writeFileSync(join(dir, 'long'), 'x'.repeat(10_000));
    assert.equal(readRegularCapped(join(dir, 'long'), 4096).length, 4096);
    assert.equal(readRegularCapped(join(dir, 'long'), 10_000).length, 10_000);
    assert.throws(() => readRegularCapped(join(dir, 'long'), 9_999, { over: 'throw' }), FileTooLargeError);
  });

  it('reads past what fstat said: a /proc file (size 0) longer than the first buffer, cut at the cap', function () {
    let whole: Buffer;
    try {
      whole = readFileSync('/proc/kallsyms');
    } catch {
      return this.skip();
    }
    if (whole.length < 300_000) return this.skip();
    const got = readRegularCapped('/proc/kallsyms', 200_000);
    assert.equal(got.length, 200_000);
    assert.ok(got.equals(whole.subarray(0, 200_000)));
  });

  it('a small file under a large cap comes back whole', () => {
    const text = 'root:x:0:0:root:/root:/bin/sh\n'.repeat(500);
    writeFileSync(join(dir, 'passwd'), text);
    assert.equal(readRegularCapped(join(dir, 'passwd'), 16 << 20, { over: 'throw' }).toString(), text);
  });

  it('refuses a FIFO without waiting for a writer', () => {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    assert.throws(() => readRegularCapped(join(dir, 'fifo'), 4096), NotRegularFileError);
  });

  it('refuses a device, and a symlink as the last component (to /dev/zero or anywhere)', () => {
    assert.throws(() => readRegularCapped('/dev/zero', 4096), NotRegularFileError);
    symlinkSync('/dev/zero', join(dir, 'zero'));
    assert.throws(() => readRegularCapped(join(dir, 'zero'), 4096), /ELOOP/);
    symlinkSync(join(dir, 'short'), join(dir, 'link'));
    assert.throws(() => readRegularCapped(join(dir, 'link'), 4096), /ELOOP/);
  });
});
