import { strict as assert } from 'node:assert';
import { pinnedMatcher } from '../../../src/image/pinned';

describe('pinned-images patterns', () => {
  const m = pinnedMatcher(['registry.k8s.io/pause:3.9', 'quay.io/org/*', '*critical*', ' ']);
  it('matches exact names only exactly', () => {
    assert.equal(m(['registry.k8s.io/pause:3.9']), true);
    assert.equal(m(['registry.k8s.io/pause:3.10']), false);
  });
  it('matches a trailing * as a prefix', () => {
    assert.equal(m(['quay.io/org/app:1']), true);
    assert.equal(m(['quay.io/other/app:1']), false);
  });
  it('matches *word* anywhere', () => {
    assert.equal(m(['docker.io/library/my-critical-app:2']), true);
  });
  it('looks at every name of the image', () => {
    assert.equal(m(['docker.io/library/busybox:1', 'quay.io/org/busybox@sha256:00']), true);
    assert.equal(m([]), false);
  });
  it('pins nothing without patterns', () => {
    assert.equal(pinnedMatcher([])(['anything']), false);
    assert.equal(pinnedMatcher(['', '  '])(['anything']), false);
  });
});
