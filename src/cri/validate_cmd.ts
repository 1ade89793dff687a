// The command of ExecSync and Exec: an execve argv. A NUL byte cannot be passed to execve (it
// would end the string early), so it is refused here as the client's mistake rather than left to
// fail deep in process creation as an INTERNAL error.

import { InvalidArgumentError } from '../errors';

export function validateCmd(cmd: readonly string[]): void {
  if (cmd.length === 0) throw new InvalidArgumentError('cmd must not be empty');
  const i = cmd.findIndex((a) => a.includes('\0'));
  if (i >= 0) throw new InvalidArgumentError(`cmd[${i}] contains a NUL byte`);
}
