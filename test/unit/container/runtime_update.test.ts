// `runc update` refusals: a memory limit below the container's usage is the request's fault
// (FAILED_PRECONDITION), anything else the runtime's (INTERNAL). The refusal text is runc 1.1's
// (libcontainer/cgroups/fs/memory.go, when the kernel answers EBUSY); the runtime here is a
// script that prints it, as runc does on stderr, and fails.

import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailedPreconditionError, InternalError } from '../../../src/errors';
import { OciRuntime } from '../../../src/runtime/oci_runtime';

describe('OciRuntime.update', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'nori-update-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const runtimeSaying = (stderr: string): OciRuntime => {
    const path = join(dir, 'runc');
    writeFileSync(path, `#!/bin/sh\ncat >/dev/null\nprintf '%s\\n' '${stderr}' >&2\nexit 1\n`);
    chmodSync(path, 0o755);
    return new OciRuntime({ name: 'runc', path, options: [], root: dir });
  };

  it('a memory limit below usage is FAILED_PRECONDITION, with the runtime message kept', async () => {
    const rt = runtimeSaying('time="x" level=error msg="unable to set memory limit to 8704 (current usage: 311296, peak usage: 5357568)"');
    const err = await rt.update('c1', { memory: { limit: 8704 } }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof FailedPreconditionError, String(err));
    assert.match(err.message, /current usage: 311296/);
  });

  it('any other failure stays INTERNAL', async () => {
    const rt = runtimeSaying('time="x" level=error msg="unable to freeze"');
    const err = await rt.update('c1', { cpu: { shares: 2 } }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof InternalError, String(err));
  });
});
