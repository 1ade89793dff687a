import { strict as assert } from 'node:assert';
import { createFailure } from '../../../src/runtime/conmon';

// Inputs are the runtimes' own words: runc 1.1 wraps Go's exec.LookPath error (os/exec's Error
// and ErrNotFound texts), crun 1.8 words its own; conmon passes them on in its sync message.
describe('a failed container create, by what the runtime said', () => {
  const runcLog = (msg: string) =>
    `time="2026-12-07T19:43:40Z" level=warning msg="cannot toggle freezer: cgroups not configured for container"\ntime="2026-12-07T19:43:40Z" level=error msg="runc create failed: unable to start container process: ${msg}"`;

  for (const [what, message] of [
    // runc's logrus line escapes the quotes inside msg="..."
    ['a command not in $PATH (runc, its log line)', runcLog('exec: \\"qleep\\": executable file not found in $PATH')],
    ['a command not in $PATH (runc, bare)', 'exec: "qleep": executable file not found in $PATH'],
    ['an absolute path that is not there (runc)', runcLog('exec: "/bin/nope": stat /bin/nope: no such file or directory')],
    ['a file that is not executable (runc)', runcLog('exec: "/etc/passwd": permission denied')],
    ['a command not in $PATH (crun)', 'executable file `qleep` not found in $PATH: No such file or directory'],
  ]) {
    it(`${what} is FAILED_PRECONDITION, naming the runtime's words`, () => {
      const e = createFailure(message!);
      assert.equal((e as { kind?: string }).kind, 'FailedPrecondition');
      assert.ok(e.message.includes(message!));
    });
  }

  it('anything else stays INTERNAL', () => {
    for (const message of [runcLog('error mounting "proc" to rootfs at "/proc": permission denied'), 'unknown error']) {
      assert.equal((createFailure(message) as { kind?: string }).kind, 'Internal');
    }
  });
});
