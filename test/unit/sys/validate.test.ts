import { strict as assert } from 'node:assert';

import { InvalidArgumentError } from '../../../src/errors';
import { isPropagationChange, MS, mountFlagsToNumber, sysctlNamespace, sysctlPath } from '../../../src/sys';

describe('sys/constants and sysctl helpers', () => {
  it('turns flag names into the kernel mask', () => {
    assert.equal(mountFlagsToNumber(['MS_BIND', 'MS_REC']), 0x1000 | 0x4000);
    assert.equal(mountFlagsToNumber(MS.MS_RDONLY), 1);
    assert.equal(mountFlagsToNumber(undefined), 0);
    assert.throws(() => mountFlagsToNumber(['MS_NOPE' as 'MS_BIND']), InvalidArgumentError);
    assert.throws(() => mountFlagsToNumber(-1), InvalidArgumentError);
  });

  it('recognises propagation-only changes', () => {
    assert.equal(isPropagationChange(MS.MS_REC | MS.MS_PRIVATE), true);
    assert.equal(isPropagationChange(MS.MS_BIND | MS.MS_PRIVATE), false);
    assert.equal(isPropagationChange(MS.MS_BIND), false);
  });

  it('maps sysctls to their namespace', () => {
    assert.equal(sysctlNamespace('net/ipv4/ip_forward'), 'net');
    assert.equal(sysctlNamespace('kernel/shmmax'), 'ipc');
    assert.equal(sysctlNamespace('kernel/msgmnb'), 'ipc');
    assert.equal(sysctlNamespace('kernel/sem'), 'ipc');
    assert.equal(sysctlNamespace('fs/mqueue/msg_max'), 'ipc');
    assert.equal(sysctlNamespace('kernel/pid_max'), null);
    assert.equal(sysctlNamespace('vm/overcommit_memory'), null);
    assert.equal(sysctlPath('net.ipv4.ip_forward'), 'net/ipv4/ip_forward');
    assert.equal(sysctlPath('net/ipv4/conf/eth0.100/forwarding'), 'net/ipv4/conf/eth0.100/forwarding');
  });
});
