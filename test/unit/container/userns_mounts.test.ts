// The idmapped clones of a user-namespaced container, over FakeSys/FakeUsernsSys and real temp
// dirs: bind sources swapped for clones under <state>/idmap/<id>, the rootfs overlay over clones
// of each layer, and every clone gone (unmounted, mount point removed) after a release or sweep.

import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { idmapBindSources, idmapDir, mountUsernsRootfs, releaseIdmaps, sweepIdmaps } from '../../../src/container/userns_mounts';
import type { SandboxRecord } from '../../../src/sandbox/api';
import { FakeSys } from '../../../src/sys/fake';
import { FakeUsernsSys } from '../../../src/sys/userns_fake';

describe('container/userns_mounts', () => {
  let dir: string;
  let sys: FakeSys;
  let userns: FakeUsernsSys;
  let sandbox: SandboxRecord;
  const maps = [{ containerId: 0, hostId: 300000, length: 65536 }];

  beforeEach(async () => {
    dir = mkdtempSync('/tmp/nori-unit-idmap-');
    sys = new FakeSys();
    userns = new FakeUsernsSys(sys);
    await userns.pinUserNamespace({ user: join(dir, 'userns'), targets: {}, uidMappings: maps, gidMappings: maps });
    sandbox = { nsPaths: { user: join(dir, 'userns') }, userns: { uidMappings: maps, gidMappings: maps } } as SandboxRecord;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('bind mounts get idmapped clones as sources; other mounts are left alone; release removes them', () => {
    const state = join(dir, 'state');
    mkdirSync(join(dir, 'vol'), { recursive: true });
    writeFileSync(join(dir, 'hosts'), '');
    const mounts = [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/vol', type: 'bind', source: join(dir, 'vol'), options: ['rbind', 'rw'] },
      { destination: '/etc/hosts', type: 'bind', source: join(dir, 'hosts'), options: ['bind', 'ro'] },
    ];
    const d = { sys, userns, state };
    idmapBindSources(d, 'c1', mounts, sandbox);
    const clones = idmapDir(state, 'c1');
    assert.equal(mounts[0]!.source, 'proc');
    assert.equal(mounts[1]!.source, join(clones, 'v1'));
    assert.equal(mounts[2]!.source, join(clones, 'v2'));
    // The pod's user namespace, recursive for rbind only.
    assert.deepEqual(userns.calls.filter((c) => c.op === 'idmapMount').map((c) => c.args.slice(2)), [
      [join(dir, 'userns'), true], [join(dir, 'userns'), false],
    ]);
    assert.ok(sys.isMounted(join(clones, 'v1')) && sys.isMounted(join(clones, 'v2')));
    assert.deepEqual(releaseIdmaps(sys, clones), []);
    assert.ok(!sys.isMounted(join(clones, 'v1')) && !sys.isMounted(join(clones, 'v2')));
    assert.ok(!existsSync(clones));
    // The volumes themselves are untouched.
    assert.ok(existsSync(join(dir, 'vol')) && existsSync(join(dir, 'hosts')));
  });

  it('a source that cannot be idmapped fails the create with a clear message', () => {
    userns.failOnce(Object.assign(new Error('EINVAL: invalid argument, mount_setattr'), { code: 'EINVAL' }));
    mkdirSync(join(dir, 'vol'));
    assert.throws(
      () => idmapBindSources({ sys, userns, state: join(dir, 'state') }, 'c2', [{ destination: '/v', type: 'bind', source: join(dir, 'vol'), options: [] }], sandbox),
      /mount "\/v": cannot make an idmapped mount of .* for the pod's user namespace/,
    );
  });

  it('the rootfs: overlay over a clone of each layer, clones released at once, upper dir given the mapped root', () => {
    if (process.getuid?.() !== 0) return; // chown of the upper dir
    const layers = join(dir, 'layers');
    for (const l of ['l/a', 'l/b', 'c/upper', 'c/work']) mkdirSync(join(layers, l), { recursive: true });
    const state = join(dir, 'state');
    const target = join(dir, 'rootfs');
    mkdirSync(target);
    mountUsernsRootfs({ sys, userns, state }, 'c3', { lowerdir: 'l/a:l/b', upperdir: 'c/upper', workdir: 'c/work', mountCwd: layers }, target, sandbox);
    const m = sys.mountAt(target)!;
    assert.equal(m.fstype, 'overlay');
    assert.equal(m.data, `lowerdir=l0:l1,upperdir=${join(layers, 'c/upper')},workdir=${join(layers, 'c/work')}`);
    assert.deepEqual(userns.calls.filter((c) => c.op === 'idmapMount').map((c) => c.args[0]), [join(layers, 'l/a'), join(layers, 'l/b')]);
    assert.ok(!existsSync(idmapDir(state, 'c3')), 'clones released once overlayfs holds its own');
    assert.equal(statSync(join(layers, 'c/upper')).uid, 300000);
  });

  it('start-up sweep: clones a crash left are unmounted and removed, nothing recursively', () => {
    const state = join(dir, 'state');
    mkdirSync(join(dir, 'vol'));
    writeFileSync(join(dir, 'vol', 'keep'), 'data');
    idmapBindSources({ sys, userns, state }, 'c4', [{ destination: '/v', type: 'bind', source: join(dir, 'vol'), options: ['rbind'] }], sandbox);
    assert.deepEqual(sweepIdmaps(sys, state), []);
    assert.ok(!existsSync(idmapDir(state, 'c4')));
    assert.ok(existsSync(join(dir, 'vol', 'keep')));
  });
});
