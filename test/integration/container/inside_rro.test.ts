// Recursive read-only mounts (Mount.recursive_read_only) seen from inside real containers: the
// whole tree under the mount is read-only, submounts included, with runc (its own `rro` option)
// and with crun (nori stages the read-only tree itself with mount_setattr); the requests the CRI
// calls invalid get InvalidArgument; Status advertises the feature for those handlers; no staged
// mount outlives CreateContainer.

import { strict as assert } from 'node:assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Inside, Pod } from './inside_harness';
import { makeSubmountTree, mountsUnder, podPerHandler, runtimeHandlers, startInsideForSuite, type SubmountTree } from './inside_setup';

const INVALID_ARGUMENT = 3;

describe('containers from inside: recursive read-only mounts', function () {
  this.timeout(120_000);
  let t: Inside;
  let tree: SubmountTree | undefined;
  const handlers = runtimeHandlers();
  let pods = new Map<string, Pod>();

  startInsideForSuite({
    teardown: () => {
      tree?.remove();
    },
  }, async (inside) => {
    t = inside;
    pods = await podPerHandler(t, handlers, 'rro');
    tree = makeSubmountTree('/tmp/nori-inside-rro-');
  });

  it('Status advertises recursive read-only mounts for every handler here (runc: rro; crun: nori)', async () => {
    const s = await t.nori.client.call('Status', {});
    const byName = Object.fromEntries(s.runtime_handlers.map((h: any) => [h.name, h.features.recursive_read_only_mounts]));
    assert.equal(byName[''], true);
    assert.equal(byName.runc, true);
    if (handlers.includes('crun')) assert.equal(byName.crun, true);
  });

  for (const h of handlers) {
    it(`${h}: a write under a submount of a recursive read-only mount fails with EROFS`, async () => {
      const pod = pods.get(h)!;
      const r = await t.run(pod, `rro-${h}`, 'touch /mnt/tmpfs/f 2>&1; touch /mnt/top 2>&1; grep " /mnt/tmpfs " /proc/self/mountinfo | cut -d" " -f6', {
        mounts: [{ host_path: tree!.host, container_path: '/mnt', readonly: true, recursive_read_only: true }],
      });
      const lines = r.out.split('\n');
      assert.equal(lines[0], "touch: /mnt/tmpfs/f: Read-only file system");
      assert.equal(lines[1], "touch: /mnt/top: Read-only file system");
      assert.match(lines[2]!, /^ro(,|$)/, 'the submount is mounted ro in the container');
      assert.ok(!existsSync(join(tree!.sub, 'f')));
      // Nothing nori staged is left once the container exists.
      assert.deepEqual(mountsUnder(t.nori.state).filter((p) => p.includes('prepared-mounts')), []);
      const staging = join(t.nori.state, 'prepared-mounts');
      assert.deepEqual(existsSync(staging) ? readdirSync(staging) : [], []);
    });

    it(`${h}: a plain readonly mount leaves the submount writable (the contrast)`, async () => {
      const r = await t.run(pods.get(h)!, `ro-${h}`, 'touch /mnt/tmpfs/plain-' + h + ' && echo ok; touch /mnt/top2 2>&1', {
        mounts: [{ host_path: tree!.host, container_path: '/mnt', readonly: true }],
      });
      assert.equal(r.out, 'ok\ntouch: /mnt/top2: Read-only file system');
      assert.ok(existsSync(join(tree!.sub, `plain-${h}`)));
    });
  }

  const invalid: [string, object][] = [
    ['readonly=false', { readonly: false }],
    ['PROPAGATION_HOST_TO_CONTAINER', { readonly: true, propagation: 'PROPAGATION_HOST_TO_CONTAINER' }],
    ['PROPAGATION_BIDIRECTIONAL', { readonly: true, propagation: 'PROPAGATION_BIDIRECTIONAL' }],
  ];
  for (const [name, extra] of invalid) {
    it(`a recursive read-only mount with ${name} is refused with InvalidArgument`, async () => {
      await assert.rejects(
        t.create(pods.get('runc')!, `bad-${name.toLowerCase().replace(/[^a-z]/g, '')}`, 'true', {
          mounts: [{ host_path: tree!.host, container_path: '/mnt', recursive_read_only: true, ...extra }],
        }),
        (e: any) => e.code === INVALID_ARGUMENT && /recursive read-only/.test(e.details),
      );
      const list = await t.nori.client.call('ListContainers', {});
      assert.ok(!list.containers.some((c: any) => c.metadata.name.startsWith('bad-')));
    });
  }
});
