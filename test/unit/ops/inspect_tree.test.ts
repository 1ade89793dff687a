// Golden output of `nori inspect`: the tree drawn from a fixed verbose-info kernel view must
// match test/unit/ops/golden/*.txt byte for byte (reviewed by hand when the drawing changes).

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { drawTree, renderContainer, renderPod } from '../../../src/inspect/tree';
import { CTR_ID, CTR_VIEW, POD_ID, POD_VIEW } from './inspect_fixture';

const GOLDEN = join(__dirname, '..', '..', '..', '..', 'test', 'unit', 'ops', 'golden');

describe('nori inspect: the tree (golden output)', () => {
  it('draws a pod: namespaces, cgroup, network with veth, bridge and netfilter, processes', () => {
    const text = renderPod({ id: POD_ID, name: 'web', namespace: 'default', state: 'READY', ip: '10.89.0.2' }, POD_VIEW);
    assert.equal(text, readFileSync(join(GOLDEN, 'inspect-pod.txt'), 'utf8'));
  });

  it('draws a container: namespaces, cgroup, layers top first, processes', () => {
    const text = renderContainer({ id: CTR_ID, name: 'nginx', podId: POD_ID, state: 'RUNNING', image: 'docker.io/library/nginx:1.27' }, CTR_VIEW);
    assert.equal(text, readFileSync(join(GOLDEN, 'inspect-container.txt'), 'utf8'));
  });

  it('draws branches and continuation bars', () => {
    assert.equal(drawTree({ text: 'r', children: [{ text: 'a', children: [{ text: 'a1' }] }, { text: 'b', children: [{ text: 'b1' }, { text: 'b2' }] }] }),
      'r\n├─ a\n│  └─ a1\n└─ b\n   ├─ b1\n   └─ b2\n');
  });
});
