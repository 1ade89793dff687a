import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { LayerDirs } from '../../../src/image/layer_store';

describe('overlay2 layer dirs', () => {
  let base: string;
  beforeEach(() => (base = fs.mkdtempSync('/var/tmp/nori-ls-')));
  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  it('marks tmp/ so new layer dirs spread over ext4 block groups (chattr +T)', function () {
    const fsType = execFileSync('stat', ['-f', '-c', '%T', base], { encoding: 'utf8' }).trim();
    if (!/ext2|ext3|ext4/.test(fsType)) this.skip();
    const dirs = new LayerDirs(base);
    const attrs = execFileSync('lsattr', ['-d', dirs.tmp], { encoding: 'utf8' }).split(/\s+/)[0]!;
    assert.ok(attrs.includes('T'), `lsattr: ${attrs}`);
  });

  it('sets the flag only on a tmp/ it makes: a restart runs no chattr (the flag stays on the dir)', function () {
    const fsType = execFileSync('stat', ['-f', '-c', '%T', base], { encoding: 'utf8' }).trim();
    if (!/ext2|ext3|ext4/.test(fsType)) this.skip();
    const dirs = new LayerDirs(base);
    execFileSync('chattr', ['-T', dirs.tmp]);
    new LayerDirs(base);
    const attrs = execFileSync('lsattr', ['-d', dirs.tmp], { encoding: 'utf8' }).split(/\s+/)[0]!;
    assert.ok(!attrs.includes('T'), `an existing tmp/ was marked again: ${attrs}`);
  });

  it('commits a temp dir with its link and lower files, and removes it again', () => {
    const dirs = new LayerDirs(base);
    const lower = `sha256:${'a'.repeat(64)}`;
    const top = `sha256:${'b'.repeat(64)}`;
    const t = dirs.newTemp();
    fs.writeFileSync(join(t, 'diff', 'f'), 'x');
    dirs.commit(t, top, [lower]);
    assert.equal(fs.readFileSync(join(dirs.diff(top), 'f'), 'utf8'), 'x');
    assert.equal(fs.readFileSync(join(dirs.dir(top), 'link'), 'utf8'), dirs.link(top));
    assert.equal(fs.readFileSync(join(dirs.dir(top), 'lower'), 'utf8'), `l/${dirs.link(lower)}`);
    assert.equal(fs.readlinkSync(join(dirs.links, dirs.link(top))), `../${'b'.repeat(64)}/diff`);
    assert.deepEqual(fs.readdirSync(dirs.tmp), []);
    dirs.remove(top);
    assert.equal(fs.existsSync(dirs.dir(top)), false);
    assert.deepEqual(fs.readdirSync(dirs.links), []);
  });
});
