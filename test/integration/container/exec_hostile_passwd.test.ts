// nori-exec looks HOME up in the container's /etc/passwd when the process has none (runc's
// setupUser). That file is the container's to make: a FIFO nobody writes, a symlink to
// /dev/zero, a file longer than the lookup reads. Each must give HOME=/ promptly, not hang the
// exec until its deadline. (runc exec itself waits on such a FIFO: its user lookup opens it.) Root only (real runc + conmon + nori-exec).

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerConfig } from '../../../src/gen/api';
import type { ContainerManager } from '../../../src/container/manager';
import { defaultExecHelper, execSync, type ExecSyncResult } from '../../../src/container/exec_sync';
import type { Logger } from '../../../src/log';
import { makeRig, type Rig } from './fakes';

describe('nori-exec and a hostile /etc/passwd', function () {
  this.timeout(120_000);
  let rig: Rig;
  let m: ContainerManager;
  let dir: string;
  let id: string;
  const helper = defaultExecHelper();
  const fallbacks: string[] = [];
  const log = { debug: (o: { reason: string }) => fallbacks.push(o.reason) } as unknown as Logger;
  const run = (cmd: string[], timeout = 20): Promise<ExecSyncResult> => {
    const row = m.get(id);
    return execSync(m.runtimeFor(row.handler), id, row.bundle, cmd, timeout, { initPid: row.pid, helper, log });
  };
  const home = async () => {
    const r = await run(['sh', '-c', 'echo "$HOME"']);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.deepEqual(fallbacks, [], 'the fast path fell back');
    return r.stdout.toString().trim();
  };
  /**
   * Replaces /etc/passwd in the container's root, from the host (runc exec cannot do it once the
   * file is a FIFO: runc's own user lookup then waits for a writer).
   */
  const make = (how: (path: string) => void) => {
    const path = join(m.get(id).bundle, 'rootfs', 'etc', 'passwd');
    rmSync(path, { force: true });
    how(path);
  };

  before(async function () {
    if (!existsSync(helper)) throw new Error(`${helper} is not built (npm run build:native)`);
    dir = mkdtempSync('/tmp/nori-exec-passwd-');
    rig = await makeRig({ Env: ['PATH=/bin:/usr/bin'], WorkingDir: '/' });
    m = rig.manager();
    await m.recover();
    id = await m.create(rig.sandbox.id, ContainerConfig.fromPartial({ metadata: { name: 'passwd', attempt: 0 }, image: { image: 'busybox' }, command: ['sleep', '3600'] }));
    await m.start(id);
  });
  after(async () => {
    await rig?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('takes HOME from a regular /etc/passwd (the control)', async () => {
    make((p) => writeFileSync(p, 'root:x:0:0:root:/root-home:/bin/sh\n'));
    assert.equal(await home(), '/root-home');
  });

  it('a FIFO as /etc/passwd: HOME=/ at once, no wait for a writer', async () => {
    make((p) => execFileSync('mkfifo', [p]));
    assert.equal(await home(), '/');
  });

  it('a symlink to /dev/zero: HOME=/, not an endless read', async () => {
    make((p) => symlinkSync('/dev/zero', p));
    assert.equal(await home(), '/');
  });

  it('an entry past 16 MiB is not read: HOME=/', async () => {
    make((p) => writeFileSync(p, Buffer.concat([Buffer.alloc(17_000_000, '#'), Buffer.from('\nroot:x:0:0:root:/far:/bin/sh\n')])));
    assert.equal(await home(), '/');
    make((p) => writeFileSync(p, 'root:x:0:0:root:/near:/bin/sh\n'));
    assert.equal(await home(), '/near');
  });
});
