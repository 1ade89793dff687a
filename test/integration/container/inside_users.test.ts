// The process user and groups of real containers, for each form the CRI and the image can name
// them in, read back with `id -u`, `id -g` and `id -G` inside. The fixtures' /etc/passwd has
// www-data (33:33) and nori (1002:1002); /etc/group has nori-extra (1004) with members nori and
// www-data (hack/images/passwd, group).

import { strict as assert } from 'node:assert';
import type { Inside, Pod } from './inside_harness';
import { startInsideForSuite } from './inside_setup';

const ID_SCRIPT = 'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G | tr " " "\\n" | sort -n | tr "\\n" " ")"';

function expectId(out: string, uid: number, gid: number, groups: number[]): void {
  const want = `uid=${uid} gid=${gid} groups=${[...groups].sort((a, b) => a - b).join(' ')} `;
  assert.equal(out.trim() + ' ', want.trimEnd() + ' ', out);
}

describe('containers from inside: users and groups', function () {
  this.timeout(120_000);
  let t: Inside;
  let pod: Pod;

  startInsideForSuite({ images: ['busybox', 'user-uid', 'user-name', 'user-uid-gid', 'user-name-gid'] }, async (inside) => {
    t = inside;
    pod = await t.pod();
  });

  const sc = (securityContext: object) => ({ linux: { security_context: securityContext } });

  it('runs as root with the image default', async () => {
    const r = await t.run(pod, 'root', ID_SCRIPT);
    expectId(r.out, 0, 0, [0, 10]);
  });

  it('run_as_user: uid with its passwd group and its /etc/group memberships', async () => {
    const r = await t.run(pod, 'uid', ID_SCRIPT, sc({ run_as_user: { value: 1002 } }));
    expectId(r.out, 1002, 1002, [1002, 1004]);
    assert.equal(r.status.user?.linux?.uid, 1002);
  });

  it('run_as_username resolves the name', async () => {
    const r = await t.run(pod, 'username', ID_SCRIPT, sc({ run_as_username: 'www-data' }));
    expectId(r.out, 33, 33, [33, 1004]);
  });

  it('run_as_group overrides the primary group', async () => {
    const r = await t.run(pod, 'group', ID_SCRIPT, sc({ run_as_user: { value: 1002 }, run_as_group: { value: 33 } }));
    expectId(r.out, 1002, 33, [33, 1004]);
  });

  it('a uid missing from passwd runs with gid 0 and no groups from the file', async () => {
    const r = await t.run(pod, 'nouser', ID_SCRIPT, sc({ run_as_user: { value: 4321 } }));
    expectId(r.out, 4321, 0, [0]);
  });

  it('run_as_group without a user is rejected', async () => {
    await assert.rejects(
      t.create(pod, 'gonly', 'true', sc({ run_as_group: { value: 33 } })),
      (e: Error) => /without user/.test(e.message),
    );
  });

  for (const [fixture, uid, gid, groups] of [
    ['user-uid', 1002, 1002, [1002, 1004]],
    ['user-name', 33, 33, [33, 1004]],
    ['user-uid-gid', 1003, 1004, [1004]],
    ['user-name-gid', 33, 1004, [1004]],
  ] as const) {
    it(`image User of ${fixture}`, async () => {
      const r = await t.run(pod, fixture, ID_SCRIPT, { image: { image: t.image(fixture) } });
      expectId(r.out, uid, gid, [...groups]);
    });
  }

  it('run_as_user wins over the image User', async () => {
    const r = await t.run(pod, 'override', ID_SCRIPT, { image: { image: t.image('user-name') }, ...sc({ run_as_user: { value: 0 } }) });
    expectId(r.out, 0, 0, [0, 10]);
  });

  it('supplemental_groups with policy Merge (default) adds to the file groups', async () => {
    const r = await t.run(pod, 'merge', ID_SCRIPT, sc({ run_as_user: { value: 1002 }, supplemental_groups: [555, 556] }));
    expectId(r.out, 1002, 1002, [555, 556, 1002, 1004]);
  });

  it('supplemental_groups with policy Strict leaves out /etc/group memberships', async () => {
    const r = await t.run(pod, 'strict', ID_SCRIPT, sc({
      run_as_user: { value: 1002 }, supplemental_groups: [555], supplemental_groups_policy: 'Strict',
    }));
    expectId(r.out, 1002, 1002, [555, 1002]);
  });
});
