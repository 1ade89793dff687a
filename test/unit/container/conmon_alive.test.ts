import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveConmonPid } from '../../../src/recovery/conmon_alive';
import { conmonPidFile } from '../../../src/runtime/conmon';

const ID = 'ab'.repeat(32);

describe('is the conmon of a container alive (recovery/conmon_alive)', () => {
  let bundle: string;
  let fake: ChildProcess;
  before(async () => {
    // stands in for conmon: a live process whose command line names the container (`-c ID`)
    fake = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '--', '-c', ID], { stdio: 'ignore' });
    await new Promise((r) => fake.once('spawn', r));
  });
  after(() => void fake.kill('SIGKILL'));
  beforeEach(() => (bundle = mkdtempSync(join(tmpdir(), 'nori-conmon-alive-'))));
  afterEach(() => rmSync(bundle, { recursive: true, force: true }));

  it('believes the pid file when the process there names the container', () => {
    writeFileSync(conmonPidFile(bundle), `${fake.pid}\n`);
    assert.equal(liveConmonPid(bundle, ID), fake.pid);
    assert.equal(liveConmonPid(bundle, 'cd'.repeat(32)), undefined, 'another container');
  });

  it('a live process that does not name the container is not its conmon (a reused pid)', () => {
    writeFileSync(conmonPidFile(bundle), `${process.pid}\n`);
    assert.equal(liveConmonPid(bundle, ID), undefined);
    assert.equal(liveConmonPid(bundle, ID, process.pid + 1), undefined, 'the init has another parent: the command line decides');
  });

  it("the verified init's parent is proof enough: the pid file naming it needs no /proc reads of its own", () => {
    // this process's argv does not name the container: only the init-parent proof can accept it
    writeFileSync(conmonPidFile(bundle), `${process.pid}\n`);
    assert.equal(liveConmonPid(bundle, ID, process.pid), process.pid);
  });

  it('no pid file, no conmon, whatever the parent', () => {
    assert.equal(liveConmonPid(bundle, ID), undefined);
    assert.equal(liveConmonPid(bundle, ID, process.pid), undefined);
  });
});
