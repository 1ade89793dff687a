// The termination message is written by the container, so nori reads it as kubelet does: at
// most 4096 bytes (kubelet's limit), and only from a regular file.

import { strict as assert } from 'node:assert';
import type { Inside, Pod } from './inside_harness';
import { startInsideForSuite } from './inside_setup';

describe('containers from inside: a hostile termination message', function () {
  this.timeout(120_000);
  let t: Inside;
  let pod: Pod;

  startInsideForSuite({}, async (inside) => {
    t = inside;
    pod = await t.pod();
  });

  it('a message longer than 4096 bytes is cut at 4096', async () => {
    // 1 MiB of "ab" pairs: the status carries the first 4096 bytes of it
    const r = await t.run(pod, 'term-long', 'yes ab | tr -d "\\n" | head -c 1048576 > /dev/termination-log; exit 1');
    assert.equal(r.exitCode, 1);
    assert.equal(r.status.message, 'ab'.repeat(2048));
  });

  it('a termination-message path the container turned into a FIFO gives no message, and no hang', async () => {
    // kubelet's annotation names a path nori does not mount over (no kubelet mount): nori reads
    // its own file, so what the container makes at that path is never opened
    const r = await t.run(pod, 'term-fifo', 'rm -f /tmp/msg; mkfifo /tmp/msg; exit 3', {
      annotations: { 'io.kubernetes.container.terminationMessagePath': '/tmp/msg' },
    });
    assert.equal(r.exitCode, 3);
    assert.equal(r.status.message, '');
  });
});
