import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adaptHandler, hybridWrapperScript, needsHybridWrapper, readCgroupLayout, type CgroupLayout } from '../../../src/runtime/crun_hybrid';

const HYBRID: CgroupLayout = { unifiedRoot: false, hybridMount: '/sys/fs/cgroup/unified', hybridControllers: 'hugetlb' };
const HYBRID_EMPTY: CgroupLayout = { unifiedRoot: false, hybridMount: '/sys/fs/cgroup/unified', hybridControllers: '' };
const V1: CgroupLayout = { unifiedRoot: false, hybridControllers: '' };
const V2: CgroupLayout = { unifiedRoot: true, hybridControllers: '' };

describe('crun on hybrid cgroup hosts (runtime/crun_hybrid)', () => {
  const cases: [string, CgroupLayout, boolean][] = [
    ['/usr/bin/crun', HYBRID, true],
    ['/usr/local/bin/crun-1.8', HYBRID, true],
    ['/usr/bin/crun', HYBRID_EMPTY, false],
    ['/usr/bin/crun', V1, false],
    ['/usr/bin/crun', V2, false],
    ['/usr/sbin/runc', HYBRID, false],
    ['/usr/bin/kata-runtime', HYBRID, false],
  ];
  for (const [path, layout, want] of cases) {
    it(`${path} on ${JSON.stringify(layout)}: wrapper ${want}`, () => assert.equal(needsHybridWrapper(path, layout), want));
  }

  it('reads the layout from a cgroup root', () => {
    const root = mkdtempSync(join(tmpdir(), 'nori-cgl-'));
    try {
      assert.deepEqual(readCgroupLayout(root), { unifiedRoot: false, hybridControllers: '' });
      mkdirSync(join(root, 'unified'));
      writeFileSync(join(root, 'unified', 'cgroup.controllers'), 'hugetlb\n');
      assert.deepEqual(readCgroupLayout(root), { unifiedRoot: false, hybridMount: join(root, 'unified'), hybridControllers: 'hugetlb' });
      writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory\n');
      assert.equal(readCgroupLayout(root).unifiedRoot, true);
      assert.equal(readCgroupLayout(root).hybridMount, undefined);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('the wrapper hides only the cgroup2 mount, in its own namespace, then execs the runtime with every argument', () => {
    const s = hybridWrapperScript('/usr/bin/crun', "/sys/fs/cgroup/it's");
    assert.match(s, /^#!\/bin\/sh\n/);
    assert.match(s, /exec \/usr\/bin\/unshare --mount --propagation unchanged -- \/bin\/sh -c 'mount --make-private "\$0" && umount "\$0" && exec "\$@"' '\/sys\/fs\/cgroup\/it'\\''s' '\/usr\/bin\/crun' "\$@"\n/);
  });

  it('adaptHandler wraps only when needed and keeps the rest of the handler', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nori-wrap-'));
    try {
      const h = { name: 'crun', path: '/usr/bin/crun', options: ['--debug'], root: '/run/x/crun' };
      assert.equal(adaptHandler(h, dir, V2), h);
      const w = adaptHandler(h, join(dir, 'w'), HYBRID);
      assert.equal(w.path, join(dir, 'w', 'crun-hybrid-cgroups'));
      assert.equal(w.wraps, '/usr/bin/crun');
      assert.deepEqual([w.name, w.options, w.root], [h.name, h.options, h.root]);
      assert.equal(readFileSync(w.path, 'utf8'), hybridWrapperScript('/usr/bin/crun', '/sys/fs/cgroup/unified'));
      assert.equal(statSync(w.path).mode & 0o777, 0o700);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
