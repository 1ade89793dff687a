// SupplementalGroupsPolicy seen from inside real containers: Merge (the default) adds the groups
// the image's /etc/group gives the user to the pod's supplemental groups; Strict gives only the
// pod's. ContainerStatus.user reports what the kernel shows for the container's init, and Status
// advertises the feature. The fixture images' /etc/group (hack/images/group) makes user
// nori (1002) a member of nori-extra (1004).

import { strict as assert } from 'node:assert';
import type { Inside, Pod } from './inside_harness';
import { podPerHandler, runtimeHandlers, startInsideForSuite } from './inside_setup';

const NORI_UID = 1002;
const GROUP_FROM_IMAGE = 1004;
const POD_GROUP = 1234;

/** Uid/Gid (effective) and Groups of a /proc/<pid>/status text. */
function ids(status: string): { uid: number; gid: number; groups: number[] } {
  const f = (n: string) => (new RegExp(`^${n}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  return { uid: f('Uid')[1]!, gid: f('Gid')[1]!, groups: f('Groups') };
}

describe('containers from inside: SupplementalGroupsPolicy and ContainerStatus.user', function () {
  this.timeout(120_000);
  let t: Inside;
  const handlers = runtimeHandlers();
  let pods = new Map<string, Pod>();

  startInsideForSuite({}, async (inside) => {
    t = inside;
    pods = await podPerHandler(t, handlers, 'groups');
  });

  it('Status advertises supplemental_groups_policy', async () => {
    const s = await t.nori.client.call('Status', {});
    assert.equal(s.features.supplemental_groups_policy, true);
  });

  const policies: [string, string | undefined, number[]][] = [
    ['Merge (by default)', undefined, [NORI_UID, GROUP_FROM_IMAGE, POD_GROUP]],
    ['Merge', 'Merge', [NORI_UID, GROUP_FROM_IMAGE, POD_GROUP]],
    ['Strict', 'Strict', [NORI_UID, POD_GROUP]],
  ];
  for (const h of handlers) {
    for (const [name, policy, groups] of policies) {
      it(`${h}, ${name}: the process has groups ${groups.join(' ')}, and ContainerStatus.user says so`, async () => {
        const sc = {
          run_as_user: { value: NORI_UID },
          supplemental_groups: [POD_GROUP],
          ...(policy ? { supplemental_groups_policy: policy } : {}),
        };
        const cname = `g-${h}-${(policy ?? 'default').toLowerCase()}`;
        const id = await t.runLong(pods.get(h)!, cname, { linux: { security_context: sc } });
        // The init's identity as the kernel shows it, from inside (pid 1 of the container's own
        // pid namespace), and an exec'd process's own.
        const init = ids((await t.exec(id, ['cat', '/proc/1/status'])).stdout);
        assert.deepEqual(init, { uid: NORI_UID, gid: NORI_UID, groups });
        assert.equal((await t.exec(id, ['id', '-G'])).stdout.trim().split(' ').map(Number).sort((a, b) => a - b).join(' '), groups.join(' '));
        const st = (await t.nori.client.call('ContainerStatus', { container_id: id })).status;
        assert.deepEqual(st.user, { linux: { uid: init.uid, gid: init.gid, supplemental_groups: init.groups } });

        // Exited: what the spec gave (as containerd reports), the same ids here.
        await t.nori.client.call('StopContainer', { container_id: id, timeout: 0 });
        const after = (await t.nori.client.call('ContainerStatus', { container_id: id })).status;
        assert.equal(after.state, 'CONTAINER_EXITED');
        assert.equal(after.user.linux.uid, NORI_UID);
        assert.deepEqual([...after.user.linux.supplemental_groups].map(Number).sort((a, b) => a - b), groups);
      });
    }
  }
});
