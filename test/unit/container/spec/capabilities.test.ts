import { strict as assert } from 'node:assert';
import { ALL_CAPABILITIES, buildCapabilities, parseCapabilityMask } from '../../../../src/container/spec/capabilities';
import { InvalidArgumentError } from '../../../../src/errors';

/**
 * containerd's default set for a non-privileged container (pkg/oci defaultUnixCaps; Docker's too),
 * written out here so that a change to nori's list fails this test.
 */
const DEFAULTS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
const sorted = (caps: string[]) => ALL_CAPABILITIES.filter((c) => caps.includes(c));
const caps = (add: string[] = [], drop: string[] = [], ambient: string[] = []) => ({ addCapabilities: add, dropCapabilities: drop, addAmbientCapabilities: ambient });
// This machine's bounding set lacks CAP_SYS_RESOURCE.
const AVAILABLE = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');

describe('container spec: capabilities', () => {
  const cases: { name: string; c?: ReturnType<typeof caps>; privileged?: boolean; want: string[] }[] = [
    { name: 'default set', want: sorted(DEFAULTS) },
    { name: 'add one, any spelling', c: caps(['sys_admin']), want: sorted([...DEFAULTS, 'CAP_SYS_ADMIN']) },
    { name: 'add with CAP_ prefix', c: caps(['CAP_NET_ADMIN']), want: sorted([...DEFAULTS, 'CAP_NET_ADMIN']) },
    { name: 'drop one', c: caps([], ['NET_RAW']), want: sorted(DEFAULTS.filter((x) => x !== 'CAP_NET_RAW')) },
    { name: 'drop ALL', c: caps([], ['ALL']), want: [] },
    { name: 'drop all (lower case) then add one', c: caps(['CHOWN'], ['all']), want: ['CAP_CHOWN'] },
    { name: 'add ALL then drop one', c: caps(['ALL'], ['CHOWN']), want: AVAILABLE.filter((c) => c !== 'CAP_CHOWN') },
    { name: 'add ALL and drop ALL: nothing', c: caps(['ALL'], ['ALL']), want: [] },
    { name: 'privileged: everything held', privileged: true, c: caps([], ['ALL']), want: AVAILABLE },
    { name: 'unavailable cap left out', c: caps(['SYS_RESOURCE']), want: sorted(DEFAULTS) },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = buildCapabilities(c.c, c.privileged ?? false, AVAILABLE, []);
      assert.deepEqual(out.bounding, c.want);
      assert.deepEqual(out.effective, c.want);
      assert.deepEqual(out.permitted, c.want);
      assert.equal(out.ambient, undefined);
    });
  }
  it('ambient caps join every set', () => {
    const out = buildCapabilities(caps([], ['ALL'], ['NET_BIND_SERVICE']), false, AVAILABLE, []);
    for (const set of [out.bounding, out.effective, out.permitted, out.inheritable, out.ambient]) {
      assert.deepEqual(set, ['CAP_NET_BIND_SERVICE']);
    }
  });
  it('warns for caps the runtime lacks', () => {
    const w: string[] = [];
    buildCapabilities(caps(['SYS_RESOURCE']), false, AVAILABLE, w);
    assert.match(w[0], /CAP_SYS_RESOURCE/);
  });
  it('rejects unknown names', () => {
    assert.throws(() => buildCapabilities(caps(['FLY']), false, AVAILABLE, []), InvalidArgumentError);
  });
  it('parses a CapBnd mask', () => {
    assert.deepEqual(parseCapabilityMask('000001fffeffffff'), AVAILABLE);
    assert.deepEqual(parseCapabilityMask('0000000000000003'), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
  });
});
