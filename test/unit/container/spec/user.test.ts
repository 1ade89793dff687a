import { strict as assert } from 'node:assert';
import { resolveUser } from '../../../../src/container/spec/user';
import { InvalidArgumentError } from '../../../../src/errors';
import { LinuxContainerSecurityContext, SupplementalGroupsPolicy, type DeepPartial } from '../../../../src/gen/api';
import { FILES } from './fixtures';

const sc = (p: DeepPartial<LinuxContainerSecurityContext>) => LinuxContainerSecurityContext.fromPartial<DeepPartial<LinuxContainerSecurityContext>>(p);

describe('container spec: user', () => {
  const cases: { name: string; sc?: DeepPartial<LinuxContainerSecurityContext>; image?: string; want: [number, number, number[]] }[] = [
    { name: 'nothing: root with its groups', want: [0, 0, [0, 10]] },
    { name: 'image User numeric in passwd', image: '1002', want: [1002, 1002, [1002, 1004]] },
    { name: 'image User name', image: 'www-data', want: [33, 33, [33, 1004]] },
    { name: 'image uid:gid not in passwd', image: '1003:1004', want: [1003, 1004, [1004]] },
    { name: 'image name:gid', image: 'www-data:1004', want: [33, 1004, [1004]] },
    { name: 'image name:groupname', image: 'nori:nori-extra', want: [1002, 1004, [1004]] },
    { name: 'unknown uid: gid 0, no file groups', image: '5000', want: [5000, 0, [0]] },
    { name: 'run_as_user overrides image', sc: { runAsUser: { value: 33n } }, image: 'nori', want: [33, 33, [33, 1004]] },
    { name: 'run_as_username wins over run_as_user', sc: { runAsUser: { value: 0n }, runAsUsername: 'nori' }, want: [1002, 1002, [1002, 1004]] },
    { name: 'run_as_user + run_as_group', sc: { runAsUser: { value: 1002n }, runAsGroup: { value: 2000n } }, want: [1002, 2000, [2000, 1004]] },
    { name: 'supplemental groups merged', sc: { runAsUser: { value: 1002n }, supplementalGroups: [3000n, 1004n] }, want: [1002, 1002, [1002, 1004, 3000]] },
    {
      name: 'Strict: only primary + supplemental',
      sc: { runAsUser: { value: 1002n }, supplementalGroups: [3000n], supplementalGroupsPolicy: SupplementalGroupsPolicy.Strict },
      want: [1002, 1002, [1002, 3000]],
    },
    { name: 'run_as_user 0 explicitly', sc: { runAsUser: { value: 0n } }, image: 'nori', want: [0, 0, [0, 10]] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const u = resolveUser(c.sc ? sc(c.sc) : undefined, c.image, FILES);
      assert.deepEqual([u.uid, u.gid, u.additionalGids], c.want);
    });
  }
  const errors: { name: string; sc?: DeepPartial<LinuxContainerSecurityContext>; image?: string; re: RegExp }[] = [
    { name: 'run_as_group without user', sc: { runAsGroup: { value: 5n } }, re: /specified without user/ },
    { name: 'unknown user name', image: 'ghost', re: /unable to find user ghost/ },
    { name: 'unknown group name', image: 'nori:ghosts', re: /unable to find group ghosts/ },
    { name: 'username not in passwd', sc: { runAsUsername: 'ghost' }, re: /unable to find user ghost/ },
  ];
  for (const c of errors) {
    it(`error: ${c.name}`, () => {
      assert.throws(() => resolveUser(c.sc ? sc(c.sc) : undefined, c.image, FILES), (e: unknown) => e instanceof InvalidArgumentError && c.re.test(e.message));
    });
  }
  it('no passwd file: numeric users still work', () => {
    const u = resolveUser(undefined, '7:8', { passwd: null, group: null });
    assert.deepEqual([u.uid, u.gid, u.additionalGids], [7, 8, [8]]);
  });
});
