// execve argv strings are NUL-terminated (execve(2)): a NUL inside one is the client's mistake,
// refused with InvalidArgument before any process is made (the fuzz test once got INTERNAL).

import { strict as assert } from 'node:assert';
import { validateCmd } from '../../../src/cri/validate_cmd';
import { checkContainerRequest } from '../../../src/cri/validate_container';
import { ContainerConfig } from '../../../src/gen/api';

const invalid = (re: RegExp) => (e: Error) => e.name === 'InvalidArgumentError' && re.test(e.message);

describe('cri/validate_cmd and the container command', () => {
  it('ExecSync/Exec: an empty cmd or an argument with a NUL byte is InvalidArgument', () => {
    assert.throws(() => validateCmd([]), invalid(/must not be empty/));
    assert.throws(() => validateCmd(['sh', '-c', 'a\0b']), invalid(/cmd\[2\] contains a NUL byte/));
    assert.doesNotThrow(() => validateCmd(['sh', '-c', 'echo ok']));
  });

  it('CreateContainer: command or args with a NUL byte is InvalidArgument', () => {
    const cfg = (o: object) => ContainerConfig.fromPartial({ metadata: { name: 'c' }, image: { image: 'busybox' }, ...o });
    assert.throws(() => checkContainerRequest('pod', cfg({ command: ['a\0'] })), invalid(/config\.command\[0\] contains a NUL byte/));
    assert.throws(() => checkContainerRequest('pod', cfg({ args: ['x', 'y\0'] })), invalid(/config\.args\[1\] contains a NUL byte/));
    assert.doesNotThrow(() => checkContainerRequest('pod', cfg({ command: ['sleep'], args: ['1'] })));
  });
});
