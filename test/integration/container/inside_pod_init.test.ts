// The pod's init (pid 1 of a shared PID namespace) seen from a container of the pod that holds
// CAP_SYS_PTRACE, as `kubectl debug --profile=general` gives: /proc/1/root must not lead to the
// node's filesystem, and the init must have nothing to give (no capabilities, no_new_privs).

import { strict as assert } from 'node:assert';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Inside, Pod } from './inside_harness';
import { startInsideForSuite } from './inside_setup';
import { skipWithoutIdmappedTmpfs } from '../../helpers/kernel';

const PTRACE = { linux: { security_context: { capabilities: { add_capabilities: ['SYS_PTRACE'] } } } };

/** The fields of /proc/1/status that say what the init could do. */
const STATUS_FIELDS = 'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):" /proc/1/status';
const NO_CAPS = ['CapInh:\t0000000000000000', 'CapPrm:\t0000000000000000', 'CapEff:\t0000000000000000',
  'CapBnd:\t0000000000000000', 'CapAmb:\t0000000000000000', 'NoNewPrivs:\t1'];

describe('containers from inside: the pod init gives nothing away', function () {
  this.timeout(120_000);
  let t: Inside;
  let marker: string;

  startInsideForSuite({}, async (inside) => {
    t = inside;
    // A file on the node that no container may reach: its path is only known to this test.
    marker = join(t.dir, 'node-secret');
    writeFileSync(marker, 'node-only\n');
  });

  async function probe(pod: Pod, name: string) {
    await t.runLong(pod, 'peer', {}, 'echo ready; exec sleep 4251');
    return t.run(pod, name, [
      'echo "pid1 $(cat /proc/1/comm)"',
      `cat /proc/1/root${marker} 2>&1 || echo "marker unreachable"`,
      'echo "root entries: $(ls -A /proc/1/root 2>&1 | wc -l)"',
      'echo "cwd: $(ls -A /proc/1/cwd 2>&1 | wc -l)"',
      STATUS_FIELDS,
      'ps -o pid,args | grep -c "sleep 4251" | sed "s/^/peer seen: /"',
    ].join('; '), PTRACE);
  }

  it('PID POD: a CAP_SYS_PTRACE container finds an empty root and a powerless init', async () => {
    const pod = await t.pod({ pid: 'POD' });
    const r = await probe(pod, 'debugger');
    assert.equal(r.exitCode, 0, r.out);
    assert.match(r.out, /^pid1 nori-reaper$/m);
    assert.doesNotMatch(r.out, /node-only/, r.out);
    assert.match(r.out, /^marker unreachable$/m);
    assert.match(r.out, /^root entries: 0$/m, r.out);
    assert.match(r.out, /^cwd: 0$/m, r.out);
    for (const line of NO_CAPS) assert.ok(r.out.split('\n').includes(line), `${line} in\n${r.out}`);
    // the shared PID namespace itself still works
    assert.match(r.out, /^peer seen: [1-9]/m, r.out);
  });

  it('PID POD without CAP_SYS_PTRACE: /proc/1/root is refused outright', async () => {
    const pod = await t.pod({ pid: 'POD' });
    const r = await t.run(pod, 'plain', 'ls /proc/1/root 2>&1; echo "rc $?"');
    assert.match(r.out, /Permission denied/, r.out);
    assert.doesNotMatch(r.out, /^rc 0$/m, r.out);
  });

  it('PID POD in a user namespace: the same', async function () {
    skipWithoutIdmappedTmpfs(this);
    // The pod's root reaches its rootfs by path: the test daemon's dirs must be searchable.
    chmodSync(t.nori.dir, 0o711);
    chmodSync(t.dir, 0o711);
    const map = [{ host_id: 3_800_000, container_id: 0, length: 65536 }];
    const pod = await t.pod({ pid: 'POD', userns: { mode: 'POD', uids: map, gids: map } });
    const r = await probe(pod, 'debugger');
    assert.equal(r.exitCode, 0, r.out);
    assert.doesNotMatch(r.out, /node-only/, r.out);
    assert.match(r.out, /^root entries: 0$/m, r.out);
    for (const line of NO_CAPS) assert.ok(r.out.split('\n').includes(line), `${line} in\n${r.out}`);
  });
});
