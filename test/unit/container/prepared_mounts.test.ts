import { strict as assert } from 'node:assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MountPreparer } from '../../../src/container/prepared_mounts';
import { InvalidArgumentError } from '../../../src/errors';
import { ContainerConfig, MountPropagation as P, type DeepPartial } from '../../../src/gen/api';
import { silentLogger } from '../../../src/log';
import { FakeSys } from '../../../src/sys/fake';
import { FakeRroMounter } from '../../../src/sys/rro_mount_fake';
import { sandbox } from './spec/fixtures';

describe('container: mounts nori stages before the runtime create', () => {
  let dir = '';
  let withRro = '';
  let withoutRro = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nori-prep-'));
    withRro = join(dir, 'runtime-rro');
    writeFileSync(withRro, `#!/bin/sh\necho '{"mountOptions":["rbind","rro"]}'\n`);
    withoutRro = join(dir, 'runtime-plain');
    writeFileSync(withoutRro, '#!/bin/sh\nexit 1\n');
    for (const p of [withRro, withoutRro]) chmodSync(p, 0o755);
    mkdirSync(join(dir, 'src-dir'));
    writeFileSync(join(dir, 'src-file'), 'x');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const config = (mounts: DeepPartial<ContainerConfig>['mounts']) => ContainerConfig.fromPartial({ metadata: { name: 'c' }, mounts });
  const make = (rro: FakeRroMounter) => new MountPreparer({
    stateDir: join(dir, 'state'), sys: new FakeSys(), rro, log: silentLogger(), resolveHostPath: (p) => p,
  });
  const rroMount = (hostPath: string, extra: object = {}) => ({ containerPath: '/d', hostPath, readonly: true, recursiveReadOnly: true, ...extra });

  it('a runtime with the rro option stages nothing', async () => {
    const fake = new FakeRroMounter();
    const p = await make(fake).prepare('c1', config([rroMount(join(dir, 'src-dir'))]), { path: withRro, options: [] }, sandbox());
    assert.equal(p.rroOption, true);
    assert.equal(p.sources.size, 0);
    assert.equal(fake.calls.length, 0);
  });

  it('otherwise nori stages a read-only copy (a dir for a dir, a file for a file) and release removes it', async () => {
    const fake = new FakeRroMounter();
    const prep = make(fake);
    const cfg = config([rroMount(join(dir, 'src-dir')), { containerPath: '/plain', hostPath: dir }, rroMount(join(dir, 'src-file'), { containerPath: '/f' })]);
    const p = await prep.prepare('c2', cfg, { path: withoutRro, options: [] }, sandbox());
    assert.equal(p.rroOption, false);
    const slot0 = join(prep.root, 'c2', '0');
    const slot2 = join(prep.root, 'c2', '2');
    assert.deepEqual(fake.calls, [{ source: join(dir, 'src-dir'), target: slot0 }, { source: join(dir, 'src-file'), target: slot2 }]);
    assert.equal(p.sources.get(cfg.mounts[0]!), slot0);
    assert.equal(p.sources.get(cfg.mounts[1]!), undefined);
    assert.ok(statSync(slot0).isDirectory());
    assert.ok(statSync(slot2).isFile());
    p.release();
    assert.ok(!existsSync(join(prep.root, 'c2')));
    p.release();
  });

  it('a failed staging leaves nothing', async () => {
    const prep = make(new FakeRroMounter(true, Object.assign(new Error('EPERM'), { code: 'EPERM' })));
    await assert.rejects(prep.prepare('c3', config([rroMount(join(dir, 'src-dir'))]), { path: withoutRro, options: [] }, sandbox()), /EPERM/);
    assert.ok(!existsSync(join(prep.root, 'c3')));
  });

  it('no rro option and no mount_setattr: InvalidArgument', async () => {
    await assert.rejects(make(new FakeRroMounter(false)).prepare('c4', config([rroMount(join(dir, 'src-dir'))]), { path: withoutRro, options: [] }, sandbox()), InvalidArgumentError);
  });

  for (const [name, extra] of [
    ['readonly=false', { readonly: false }],
    ['HOST_TO_CONTAINER propagation', { propagation: P.PROPAGATION_HOST_TO_CONTAINER }],
    ['BIDIRECTIONAL propagation', { propagation: P.PROPAGATION_BIDIRECTIONAL }],
  ] as const) {
    it(`refuses a recursive read-only mount with ${name} (InvalidArgument) before staging anything`, async () => {
      const fake = new FakeRroMounter();
      await assert.rejects(make(fake).prepare('c5', config([rroMount(join(dir, 'src-dir'), extra)]), { path: withoutRro, options: [] }, sandbox()), InvalidArgumentError);
      assert.equal(fake.calls.length, 0);
    });
  }

  it('sweep removes what a crash left staged', async () => {
    const prep = make(new FakeRroMounter());
    await prep.prepare('c6', config([rroMount(join(dir, 'src-dir'))]), { path: withoutRro, options: [] }, sandbox());
    assert.ok(existsSync(join(prep.root, 'c6', '0')));
    prep.sweep();
    assert.ok(!existsSync(join(prep.root, 'c6')));
  });
});
