import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import {
  buildSeccomp, chooseSeccomp, compareKernel, convertSeccompProfile,
} from '../../../../src/container/spec/seccomp';
import { DEFAULT_CAPABILITIES } from '../../../../src/container/spec/capabilities';
import { InvalidArgumentError } from '../../../../src/errors';
import { LinuxContainerSecurityContext, SecurityProfile_ProfileType as T, type DeepPartial } from '../../../../src/gen/api';

const sc = (p: DeepPartial<LinuxContainerSecurityContext>) => LinuxContainerSecurityContext.fromPartial<DeepPartial<LinuxContainerSecurityContext>>(p);

describe('container spec: seccomp', () => {
  const choices: { name: string; sc: DeepPartial<LinuxContainerSecurityContext>; want: unknown }[] = [
    { name: 'nothing set: unconfined', sc: {}, want: { kind: 'unconfined' } },
    { name: 'RuntimeDefault', sc: { seccomp: { profileType: T.RuntimeDefault } }, want: { kind: 'runtime-default' } },
    { name: 'Unconfined', sc: { seccomp: { profileType: T.Unconfined } }, want: { kind: 'unconfined' } },
    { name: 'Localhost', sc: { seccomp: { profileType: T.Localhost, localhostRef: '/p.json' } }, want: { kind: 'localhost', path: '/p.json' } },
    { name: 'Localhost with prefix', sc: { seccomp: { profileType: T.Localhost, localhostRef: 'localhost//p.json' } }, want: { kind: 'localhost', path: '/p.json' } },
    { name: 'field wins over path', sc: { seccomp: { profileType: T.Unconfined }, seccompProfilePath: 'runtime/default' }, want: { kind: 'unconfined' } },
    { name: 'path runtime/default', sc: { seccompProfilePath: 'runtime/default' }, want: { kind: 'runtime-default' } },
    { name: 'path docker/default', sc: { seccompProfilePath: 'docker/default' }, want: { kind: 'runtime-default' } },
    { name: 'path unconfined', sc: { seccompProfilePath: 'unconfined' }, want: { kind: 'unconfined' } },
    { name: 'path localhost/', sc: { seccompProfilePath: 'localhost//etc/p.json' }, want: { kind: 'localhost', path: '/etc/p.json' } },
  ];
  for (const c of choices) it(`choice: ${c.name}`, () => assert.deepEqual(chooseSeccomp(sc(c.sc)), c.want));
  const bad: DeepPartial<LinuxContainerSecurityContext>[] = [
    { seccompProfilePath: 'bogus' },
    { seccompProfilePath: 'localhost/relative.json' },
    { seccomp: { profileType: T.RuntimeDefault, localhostRef: '/x' } },
  ];
  for (const b of bad) it(`invalid: ${JSON.stringify(b)}`, () => assert.throws(() => chooseSeccomp(sc(b)), InvalidArgumentError));

  const profile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    defaultErrno: 'ENOSYS',
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW', args: [], comment: '', includes: {}, excludes: {} },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }], includes: {}, excludes: {} },
      { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] }, excludes: {} },
      { names: ['arm_only'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] }, excludes: {} },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] }, excludes: {} },
      { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, includes: {}, excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['new_thing'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '6.5' }, excludes: {} },
      { name: 'single', action: 'SCMP_ACT_ALLOW' },
    ],
  };
  it('converts containers/common format for amd64 without CAP_SYS_ADMIN', () => {
    const out = convertSeccompProfile(profile, { capabilities: DEFAULT_CAPABILITIES, arch: 'amd64', kernelVersion: '6.1.0-18-amd64' });
    assert.deepEqual(out, {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['read'], action: 'SCMP_ACT_ALLOW' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
        { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW' },
        { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
        { names: ['single'], action: 'SCMP_ACT_ALLOW' },
      ],
    });
  });
  it('with CAP_SYS_ADMIN on arm64 and a new kernel', () => {
    const out = convertSeccompProfile(profile, { capabilities: ['CAP_SYS_ADMIN'], arch: 'arm64', kernelVersion: '6.18.0' });
    assert.deepEqual(out.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    assert.deepEqual(out.syscalls?.map((s) => `${s.names[0]}:${s.action}`), [
      'read:SCMP_ACT_ALLOW', 'personality:SCMP_ACT_ALLOW', 'arm_only:SCMP_ACT_ALLOW', 'mount:SCMP_ACT_ALLOW', 'new_thing:SCMP_ACT_ALLOW', 'single:SCMP_ACT_ALLOW',
    ]);
  });
  it('kernel versions compare numerically', () => {
    assert.ok(compareKernel('6.18.0', '6.5') > 0);
    assert.ok(compareKernel('5.4', '5.10') < 0);
    assert.equal(compareKernel('6.1', '6.1.0'), 0);
  });
  it('the installed /usr/share/containers/seccomp.json converts', function () {
    let raw: string;
    try {
      raw = readFileSync('/usr/share/containers/seccomp.json', 'utf8');
    } catch {
      this.skip();
      return;
    }
    const out = convertSeccompProfile(JSON.parse(raw), { capabilities: DEFAULT_CAPABILITIES, arch: 'amd64' });
    assert.equal(out.defaultAction, 'SCMP_ACT_ERRNO');
    const allowed = new Set(out.syscalls?.filter((s) => s.action === 'SCMP_ACT_ALLOW').flatMap((s) => s.names));
    assert.ok(allowed.has('read') && allowed.has('chroot'));
    assert.ok(!allowed.has('bpf'), 'bpf is only allowed with CAP_SYS_ADMIN');
    const withAdmin = convertSeccompProfile(JSON.parse(raw), { capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], arch: 'amd64' });
    assert.ok(withAdmin.syscalls?.some((s) => s.action === 'SCMP_ACT_ALLOW' && s.names.includes('bpf')));
  });
  it('buildSeccomp: localhost read and parsed; read errors are InvalidArgument', () => {
    const ctx = { capabilities: [], arch: 'amd64' };
    const read = (p: string) => {
      if (p === '/ok.json') return JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }] });
      throw new Error('ENOENT');
    };
    assert.deepEqual(buildSeccomp({ kind: 'localhost', path: '/ok.json' }, null, read, ctx), {
      defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['sethostname'], action: 'SCMP_ACT_ERRNO' }],
    });
    assert.throws(() => buildSeccomp({ kind: 'localhost', path: '/missing.json' }, null, read, ctx), InvalidArgumentError);
    assert.equal(buildSeccomp({ kind: 'unconfined' }, profile, read, ctx), undefined);
  });
});
