// The held-descriptor reader: fresh text through one kept descriptor, the bound on how many are
// kept, and the closing of those not read for a while. Expected values come from the kernel
// (/proc/self/io counts this process's reads) and from the files the test writes.

import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeldFileReader } from '../../../src/cgroups/held_files';
import { openFilesLimit } from '../../../src/proc/limits';

const openFds = () => readdirSync('/proc/self/fd').length;
const rchar = (text: string | undefined) => BigInt(/^rchar: (\d+)$/m.exec(text ?? '')?.[1] ?? '-1');

describe('HeldFileReader', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nori-held-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a kernel file anew through the one descriptor it keeps', () => {
    const r = new HeldFileReader({ maxHeld: 8 });
    const before = openFds();
    const first = rchar(r.read('/proc/self/io'));
    const second = rchar(r.read('/proc/self/io'));
    assert.equal(r.size, 1);
    assert.equal(openFds(), before + 1, 'one descriptor kept across both reads');
    assert.ok(first > 0n && second > first, `rchar counted the first read: ${first} then ${second}`);
    r.close();
    assert.equal(openFds(), before);
  });

  it('sees a file rewritten in place', () => {
    const f = join(dir, 'memory.max');
    writeFileSync(f, '100\n');
    const r = new HeldFileReader({ maxHeld: 8 });
    assert.equal(r.read(f), '100\n');
    writeFileSync(f, '2000\n');
    assert.equal(r.read(f), '2000\n');
    r.close();
  });

  it('reads a file longer than its buffer whole', () => {
    const f = join(dir, 'big');
    const text = 'x'.repeat(200_000);
    writeFileSync(f, text);
    const r = new HeldFileReader({ maxHeld: 8 });
    assert.equal(r.read(f)?.length, text.length);
    assert.equal(r.read(f)?.length, text.length);
    r.close();
  });

  it('keeps no more descriptors than its bound, and still reads past it', () => {
    const files = [0, 1, 2, 3].map((i) => join(dir, `f${i}`));
    files.forEach((f, i) => writeFileSync(f, `${i}\n`));
    const before = openFds();
    const r = new HeldFileReader({ maxHeld: 2 });
    files.forEach((f, i) => assert.equal(r.read(f), `${i}\n`));
    assert.equal(r.size, 2);
    assert.equal(openFds(), before + 2);
    r.close();
  });

  it('answers undefined for a missing file and keeps nothing for it', () => {
    const r = new HeldFileReader({ maxHeld: 8 });
    assert.equal(r.read(join(dir, 'absent')), undefined);
    assert.equal(r.size, 0);
  });

  it('closes the descriptors not read for the idle time', () => {
    let now = 0;
    const [a, b] = ['a', 'b'].map((n) => join(dir, n));
    writeFileSync(a!, 'a');
    writeFileSync(b!, 'b');
    const r = new HeldFileReader({ maxHeld: 8, idleMs: 1000, now: () => now });
    const before = openFds();
    r.read(a!);
    r.read(b!);
    now = 600;
    r.read(a!);
    now = 1200; // b unread for 1200 ms, a for 600
    r.read(a!);
    assert.equal(r.size, 1);
    assert.equal(openFds(), before + 1);
    r.close();
  });
});

describe('HeldFileReader without reads', () => {
  it('closes idle descriptors on its own when nothing reads any more', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nori-held-'));
    try {
      const f = join(dir, 'cpu.stat');
      writeFileSync(f, 'usage_usec 1\n');
      const before = openFds();
      const r = new HeldFileReader({ maxHeld: 8, idleMs: 100 });
      r.read(f);
      assert.equal(openFds(), before + 1);
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(r.size, 0, 'no read came, the timer swept');
      assert.equal(openFds(), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('openFilesLimit', () => {
  it('takes the soft limit of the "Max open files" line', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max processes             95884                95884                processes ',
      'Max open files            20000                1048576              files     ',
    ].join('\n');
    assert.equal(openFilesLimit(() => text), 20000);
    assert.equal(openFilesLimit(() => 'Max processes 1 1 processes'), undefined);
  });
});
