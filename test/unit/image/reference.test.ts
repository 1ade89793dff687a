import { strict as assert } from 'node:assert';
import { formatReference, parseReference } from '../../../src/image/reference';

describe('image references', () => {
  const D = `sha256:${'a'.repeat(64)}`;
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['user/app', 'docker.io/user/app:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['registry.k8s.io/pause:3.9', 'registry.k8s.io/pause:3.9'],
    ['localhost/app', 'localhost/app:latest'],
    ['127.0.0.1:5000/a/b/c:v1', '127.0.0.1:5000/a/b/c:v1'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`quay.io/x/y:t@${D}`, `quay.io/x/y:t@${D}`],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
  ];
  for (const [input, want] of cases) {
    it(`normalizes ${input}`, () => assert.equal(formatReference(parseReference(input)), want));
  }
  for (const bad of ['', 'x/UPPER', 'a b', 'busybox:', 'busybox@sha256:abc', 'x/../y', ':tag', 'a//b', 'busybox:-bad', 'host:port:x/y']) {
    it(`rejects "${bad}"`, () => assert.throws(() => parseReference(bad), (e: Error) => e.name === 'InvalidArgumentError'));
  }
});
