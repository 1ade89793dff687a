// The native readNetDevInNetns against a real network namespace pinned by the addon: the counters
// are the namespace's own (only lo, which moves with traffic inside it), not the host's.

import { strict as assert } from 'node:assert';
import { closeSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseNetDev } from '../../../src/stats/net_dev';
import { getSys } from '../../../src/sys';
import { unpinNamespace } from '../../../src/sys/unpin';

describe('native readNetDevInNetns (root)', () => {
  let dir: string;
  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = mkdtempSync('/tmp/nori-netdev-');
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('reads /proc/net/dev inside the pinned netns, and fails clearly on a bad path', async () => {
    const sys = getSys();
    const ns = join(dir, 'net');
    await sys.pinNamespaces({ targets: { net: ns } });
    try {
      const before = parseNetDev(sys.readNetDevInNetns(ns));
      assert.deepEqual(before.map((i) => i.name), ['lo'], 'a new netns has lo only');
      // Traffic inside the namespace: a TCP connect to a closed port of its lo (SYN, RST).
      const fd = await sys.connectInNetns(ns, '127.0.0.1', 9, { timeoutMs: 1000 }).catch(() => -1);
      if (fd >= 0) closeSync(fd);
      const after = parseNetDev(sys.readNetDevInNetns(ns));
      assert.ok(after[0]!.rxPackets > before[0]!.rxPackets, 'the SYN and RST on lo were counted');
      const host = parseNetDev(readFileSync('/proc/net/dev', 'utf8'));
      assert.ok(host.length > 1, 'the host has more interfaces than the pod');
    } finally {
      await unpinNamespace(sys, ns);
    }
    assert.throws(() => sys.readNetDevInNetns(join(dir, 'missing')), /ENOENT/);
    assert.throws(() => sys.readNetDevInNetns('/etc/hostname'), /EINVAL/);
  });
});
