import { strict as assert } from 'node:assert';
import { cgroupfsComponents, expandSlice, isSystemdSlice, toCgroupfsPath, toSystemdSlice } from '../../../src/cgroups/names';

describe('cgroups/names', () => {
  it('expands systemd slices level by level', () => {
    assert.equal(expandSlice('kubepods.slice'), '/kubepods.slice');
    assert.equal(expandSlice('kubepods-burstable-pod1.slice'), '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice');
    assert.equal(expandSlice('-.slice'), '/');
  });

  it('refuses malformed slices', () => {
    for (const bad of ['a--b.slice', '-a.slice', 'a-.slice', 'kubepods', 'a/b.slice']) assert.throws(() => expandSlice(bad), /slice/);
  });

  it('converts cgroupfs names to slices as kubelet does (dashes in a level become underscores)', () => {
    assert.equal(toSystemdSlice('/kubepods/burstable/pod1'), 'kubepods-burstable-pod1.slice');
    assert.equal(toSystemdSlice('/kubepods/pod-a-b'), 'kubepods-pod_a_b.slice');
    assert.equal(toSystemdSlice('/'), '-.slice');
  });

  it('normalises either syntax to a cgroupfs path and refuses ..', () => {
    assert.equal(toCgroupfsPath('kubepods-besteffort.slice'), '/kubepods.slice/kubepods-besteffort.slice');
    assert.equal(toCgroupfsPath('kubepods//besteffort/'), '/kubepods/besteffort');
    assert.equal(isSystemdSlice('/kubepods'), false);
    assert.throws(() => cgroupfsComponents('/kubepods/../etc'), /\.\./);
    assert.throws(() => cgroupfsComponents('/a\0b'), /NUL/);
  });
});
