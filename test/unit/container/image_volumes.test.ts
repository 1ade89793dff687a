import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageVolumeOwner, resolveSubPath } from '../../../src/container/image_volumes';
import { InvalidArgumentError, NotFoundError } from '../../../src/errors';
import { imageVolumeRef, layerOwner } from '../../../src/image/api';

describe('container: image volumes', () => {
  let root = '';
  before(() => {
    // An image root: dirs, a file, and symlinks relative, absolute (image-rooted), climbing out.
    root = mkdtempSync(join(tmpdir(), 'nori-imgvol-'));
    mkdirSync(join(root, 'www', 'site'), { recursive: true });
    writeFileSync(join(root, 'www', 'index.html'), 'x');
    symlinkSync('www/site', join(root, 'rel'));
    symlinkSync('/www', join(root, 'abs'));
    symlinkSync('../../..', join(root, 'www', 'up'));
    symlinkSync('/nope', join(root, 'dangling'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('resolves a sub path inside the image, following symlinks with the image root as "/"', () => {
    assert.equal(resolveSubPath(root, ''), root);
    assert.equal(resolveSubPath(root, 'www'), join(root, 'www'));
    assert.equal(resolveSubPath(root, './www/site/'), join(root, 'www', 'site'));
    assert.equal(resolveSubPath(root, 'rel'), join(root, 'www', 'site'));
    assert.equal(resolveSubPath(root, 'abs/site'), join(root, 'www', 'site'));
  });

  const refused: [string, string, unknown][] = [
    ['an absolute path', '/www', InvalidArgumentError],
    ['a ".." component', 'www/../www', InvalidArgumentError],
    ['a symlink climbing out of the image', 'www/up', InvalidArgumentError],
    ['a missing path', 'www/none', NotFoundError],
    ['a dangling symlink', 'dangling', NotFoundError],
    ['a file', 'www/index.html', InvalidArgumentError],
    ['a symlink loop', 'loop1', InvalidArgumentError],
  ];
  for (const [name, sub, err] of refused) {
    it(`refuses ${name}`, () => assert.throws(() => resolveSubPath(root, sub), err as never));
  }

  it('an image volume reference names its container', () => {
    const id = 'a'.repeat(64);
    assert.equal(imageVolumeRef(id, '2'), `${id}.image-volume.2`);
    assert.equal(imageVolumeOwner(imageVolumeRef(id, '2')), id);
    assert.equal(imageVolumeOwner(id), undefined);
    assert.deepEqual(layerOwner(id), { container: id, imageVolume: false });
  });
});
