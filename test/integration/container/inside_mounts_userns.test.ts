// The mounts nori stages (prepared_mounts.ts) in pods with their own user namespace: an image
// volume shows the image's owners as the container sees them, and a recursive read-only mount
// stays read-only down its submounts, with runc (rro) and crun (staged by nori).

import { strict as assert } from 'node:assert';
import { chmodSync } from 'node:fs';
import type { Inside } from './inside_harness';
import { makeSubmountTree, mountsUnder, runtimeHandlers, startInsideForSuite, type SubmountTree } from './inside_setup';
import { skipWithoutIdmappedTmpfs } from '../../helpers/kernel';

const RANGE = { hostId: 1_800_000, length: 65536 };
const userns = () => {
  const m = [{ host_id: RANGE.hostId, container_id: 0, length: RANGE.length }];
  return { mode: 'POD', uids: m, gids: m };
};

describe('containers from inside: staged mounts in a pod with its own user namespace', function () {
  this.timeout(120_000);
  let t: Inside;
  let tree: SubmountTree | undefined;
  const handlers = runtimeHandlers();

  startInsideForSuite({
    images: ['busybox', 'web'],
    skipUnless: skipWithoutIdmappedTmpfs,
    teardown: () => {
      tree?.remove();
    },
  }, async (inside) => {
    t = inside;
    // The pod's root reaches its rootfs and volumes by path: the temp dirs must be searchable.
    chmodSync(t.nori.dir, 0o711);
    tree = makeSubmountTree('/tmp/nori-inside-rro-userns-', 0o755);
  });

  for (const h of handlers) {
    it(`${h}: an image volume shows the image's files and owners (root is 0 inside)`, async function () {
      const s = await t.nori.client.call('Status', {});
      const feature = s.runtime_handlers.find((x: any) => x.name === h)?.features.user_namespaces;
      if (!feature) this.skip(); // user namespaces are not advertised for this handler
      const pod = await t.pod({ handler: h, name: `uv-${h}`, userns: userns() } as never);
      const r = await t.run(pod, `iv-${h}`, 'stat -c "%u %g" /vol/index.html; head -c 15 /vol/index.html; echo; touch /vol/x 2>&1', {
        mounts: [{ container_path: '/vol', image: { image: t.image('web') }, readonly: true, image_sub_path: 'www' }],
      });
      // Unmapped, the image's root-owned files would show as 65534 (the overflow id).
      assert.equal(r.out, '0 0\n<!DOCTYPE html>\ntouch: /vol/x: Read-only file system');
      // Neither the staged overlay nor its idmapped layer clones stay mounted on the host.
      assert.deepEqual(mountsUnder(t.nori.state).filter((p) => /\/(prepared-mounts|idmap)\//.test(p)), []);
    });

    it(`${h}: a recursive read-only mount is read-only down its submounts`, async function () {
      const s = await t.nori.client.call('Status', {});
      const feature = s.runtime_handlers.find((x: any) => x.name === h)?.features.user_namespaces;
      if (!feature) this.skip();
      const pod = await t.pod({ handler: h, name: `ur-${h}`, userns: userns() } as never);
      const r = await t.run(pod, `rro-${h}`, 'touch /mnt/tmpfs/f 2>&1; touch /mnt/top 2>&1; ls -d /mnt/tmpfs', {
        mounts: [{ host_path: tree!.host, container_path: '/mnt', readonly: true, recursive_read_only: true }],
      });
      assert.equal(r.out, 'touch: /mnt/tmpfs/f: Read-only file system\ntouch: /mnt/top: Read-only file system\n/mnt/tmpfs');
    });
  }
});
