import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startViaExecFifo } from '../../../src/runtime/exec_fifo_start';

// Stands in for `runc init`: blocks opening the fifo for writing, writes "0", then "execs" (here: sleeps).
function fakeInit(dir: string) {
  execFileSync('mkfifo', [join(dir, 'exec.fifo')]);
  return spawn('sh', ['-c', `printf 0 > '${join(dir, 'exec.fifo')}' && echo started > '${join(dir, 'out')}' && sleep 5`], { stdio: 'ignore' });
}

describe('start through the exec fifo (runc layout)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'nori-fifo-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('releases the waiting init, reads its "0" and removes the fifo', async () => {
    const init = fakeInit(dir);
    try {
      assert.equal(await startViaExecFifo(dir, init.pid!), true);
      assert.equal(existsSync(join(dir, 'exec.fifo')), false, 'fifo removed: runc now reports running');
      for (let i = 0; i < 50 && !existsSync(join(dir, 'out')); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(existsSync(join(dir, 'out')), 'the init went on past its write');
    } finally {
      init.kill('SIGKILL');
    }
  });

  it('a short job whose init wrote its "0" and exited before a busy loop looked: started, not "died"', async function () {
    this.timeout(10_000);
    const fifo = join(dir, 'exec.fifo');
    execFileSync('mkfifo', [fifo]);
    const init = spawn('sh', ['-c', `printf 0 > '${fifo}'`], { stdio: 'ignore' });
    const started = startViaExecFifo(dir, init.pid!); // opens the fifo before its first await
    // A daemon busy making containers: the loop is blocked until the job has exited (a zombie:
    // nobody reaps while the loop is blocked) and the 100 ms liveness check is due.
    const state = () => {
      try {
        return readFileSync(`/proc/${init.pid}/stat`, 'utf8').split(') ')[1]?.[0];
      } catch {
        return 'gone';
      }
    };
    const limit = Date.now() + 5000;
    while (state() !== 'Z' && state() !== 'gone' && Date.now() < limit) {
      // busy
    }
    const due = Date.now() + 150;
    while (Date.now() < due) {
      // busy
    }
    assert.equal(await started, true);
  });

  it('answers false when there is no fifo, so the runtime CLI starts it', async () => {
    assert.equal(await startViaExecFifo(dir, process.pid), false);
  });

  it('fails clearly when the init is gone instead of waiting forever', async () => {
    execFileSync('mkfifo', [join(dir, 'exec.fifo')]);
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    await assert.rejects(startViaExecFifo(dir, gone.pid!, 2000), /died before it was started/);
  });
});
