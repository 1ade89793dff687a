// The verbose view's cheap kernel reads (native/src/inspect_read.cc) against the kernel's own
// answers: statmount(2) gives what /proc/self/mountinfo shows for the same mount, nftables'
// generation moves when a table is added, and the batch file read returns the files' contents.

import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountsAt } from '../../../src/proc/mountinfo';
import { mountAt, nftGeneration, readSmallFiles } from '../../../src/sys/inspect_reads';

describe('sys: the verbose view\'s cheap kernel reads', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nori-ireads-'));
  });
  after(() => {
    spawnSync('umount', [join(dir, 'mnt')]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('mountAt: a tmpfs mounted with options is what mountinfo lists on that point', function () {
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0711', 'tmpfs', mnt]);
    const top = mountAt(mnt);
    if (top === undefined) this.skip(); // kernel before statmount's MNT_OPTS (6.11): the caller reads mountinfo
    const listed = mountsAt(readFileSync('/proc/self/mountinfo', 'utf8'), mnt).pop()!;
    assert.equal(top!.mountPoint, mnt);
    assert.equal(top!.mountId, listed.mountId);
    assert.equal(top!.fsType, 'tmpfs');
    // mountinfo's field 11 is rw/ro then the same options
    assert.equal(`${listed.superOptions.split(',')[0]},${top!.options}`, listed.superOptions);
    // a directory below it is not a mount point: the mount that holds it is named instead
    mkdirSync(join(mnt, 'sub'));
    assert.equal(mountAt(join(mnt, 'sub'))?.mountPoint, mnt);
  });

  it('nftGeneration moves when a table is added and removed', function () {
    const before = nftGeneration();
    if (before === undefined) this.skip();
    const table = `nori_ireads_${randomBytes(3).toString('hex')}`;
    execFileSync('nft', ['add', 'table', 'inet', table]);
    const added = nftGeneration()!;
    execFileSync('nft', ['delete', 'table', 'inet', table]);
    const removed = nftGeneration()!;
    assert.notEqual(added, before);
    assert.notEqual(removed, added);
  });

  it('readSmallFiles: each file\'s content, null for a missing one', () => {
    const a = join(dir, 'a');
    writeFileSync(a, 'x'.repeat(10_000));
    assert.deepEqual(readSmallFiles([a, join(dir, 'missing'), '/proc/self/cgroup']).map((t) => t?.length ?? null),
      [10_000, null, readFileSync('/proc/self/cgroup', 'utf8').length]);
  });
});
