// The one mountinfo parser against lines in the format proc(5) gives (examples from proc(5) and
// from this kind of host: a cgroup v1 hierarchy, an overlay with escaped mount points).

import { strict as assert } from 'node:assert';
import { mountsAt, parseMountinfo, parseMountinfoLine } from '../../../src/proc/mountinfo';

describe('proc: mountinfo', () => {
  it('proc(5)\'s example line, field by field', () => {
    assert.deepEqual(parseMountinfoLine('36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue'), {
      mountId: 36, parentId: 35, device: '98:0', root: '/mnt1', mountPoint: '/mnt2', mountOptions: 'rw,noatime',
      optional: ['master:1'], fstype: 'ext3', source: '/dev/root', superOptions: 'rw,errors=continue',
    });
  });

  it('no optional fields, several optional fields, and lines that are not mountinfo', () => {
    const text = '22 1 0:21 / /proc rw - proc proc rw\n30 22 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:12 master:3 - cgroup cgroup rw,memory\n\ngarbage line\n';
    const e = parseMountinfo(text);
    assert.equal(e.length, 2);
    assert.deepEqual(e[0]!.optional, []);
    assert.deepEqual(e[1]!.optional, ['shared:12', 'master:3']);
    assert.equal(e[1]!.superOptions, 'rw,memory');
  });

  it('space, tab, newline and backslash come back from their octal escapes', () => {
    const e = parseMountinfoLine('40 1 0:40 /a\\040b /mnt/x\\011y\\012z\\134w rw - tmpfs my\\040src rw')!;
    assert.equal(e.root, '/a b');
    assert.equal(e.mountPoint, '/mnt/x\ty\nz\\w');
    assert.equal(e.source, 'my src');
  });

  it('mountsAt: only the mounts exactly on that point, stacked ones in table order', () => {
    const text = [
      '49 27 0:40 / /run/b/rootfs rw - overlay overlay rw,lowerdir=l/A,upperdir=u1,workdir=w1',
      '50 27 0:41 / /run/b/rootfs/proc rw - proc proc rw',
      '51 27 0:42 / /run/b/rootfs2 rw - tmpfs tmpfs rw',
      '52 49 0:43 / /run/b/rootfs rw - overlay overlay rw,lowerdir=l/B,upperdir=u2,workdir=w2',
      '53 27 0:44 / /run/a\\040b rw - tmpfs tmpfs rw',
    ].join('\n');
    assert.deepEqual(mountsAt(text, '/run/b/rootfs').map((m) => m.mountId), [49, 52]);
    assert.deepEqual(mountsAt(text, '/run/a b').map((m) => m.mountId), [53]);
    assert.deepEqual(mountsAt(text, '/run/b'), []);
  });
});
