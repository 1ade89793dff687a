import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quickRuntimeState } from '../../../src/recovery/quick_state';
import { saveIdentity } from '../../../src/proc/identity';
import { eachLimited, TimeoutError, withTimeout } from '../../../src/util/parallel';

const ID = 'cd'.repeat(32);
// a /proc/<pid>/stat line: state is field 3, start time field 22
const stat = (pid: number, state: string, start: string) =>
  `${pid} (sh) ${state} 1 ${pid} ${pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${start} 1000 100 0`;

describe('start-up state of a container without the runtime (recovery/quick_state)', () => {
  let dir: string;
  let input: Parameters<typeof quickRuntimeState>[0];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nori-qs-'));
    mkdirSync(join(dir, 'runc', ID), { recursive: true });
    writeFileSync(join(dir, 'runc', ID, 'state.json'), '{}');
    saveIdentity(join(dir, 'init.identity'), { pid: 4242, startTime: '777' });
    input = { id: ID, pid: 4242, identityFile: join(dir, 'init.identity'), runtimePath: '/usr/sbin/runc', runtimeRoot: join(dir, 'runc') };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('running: the recorded init lives with the same start time and runc has no exec fifo; its parent comes from the same read', () => {
    assert.deepEqual(quickRuntimeState(input, (pid) => stat(pid, 'S', '777')), { status: 'running', initParent: 1 });
  });

  it('created: the exec fifo is still in the state dir', () => {
    writeFileSync(join(dir, 'runc', ID, 'exec.fifo'), '');
    assert.deepEqual(quickRuntimeState(input, (pid) => stat(pid, 'S', '777')), { status: 'created', initParent: 1 });
  });

  it('asks the runtime for anything else', () => {
    const live = (pid: number) => stat(pid, 'S', '777');
    assert.equal(quickRuntimeState(input, (pid) => stat(pid, 'S', '778')), undefined, 'pid reused by another process');
    assert.equal(quickRuntimeState(input, (pid) => stat(pid, 'Z', '777')), undefined, 'zombie');
    assert.equal(quickRuntimeState(input, () => undefined), undefined, 'gone');
    assert.equal(quickRuntimeState({ ...input, pid: 4243 }, live), undefined, 'row names another pid');
    assert.equal(quickRuntimeState({ ...input, runtimePath: '/usr/bin/crun' }, live), undefined, 'not runc');
    assert.equal(quickRuntimeState({ ...input, identityFile: join(dir, 'none') }, live), undefined, 'no identity recorded');
    rmSync(join(dir, 'runc', ID), { recursive: true });
    assert.equal(quickRuntimeState(input, live), undefined, 'no runc state (a reboot emptied /run)');
  });
});

describe('bounded start-up work (util/parallel)', () => {
  it('eachLimited runs every item, never more than width at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await eachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      done.push(x);
      running--;
    });
    assert.deepEqual(done.sort(), [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(most, 3);
  });

  it('withTimeout gives up on a promise that does not settle, and passes a settled one through', async () => {
    await assert.rejects(withTimeout(new Promise(() => undefined), 20, 'stuck'), TimeoutError);
    assert.equal(await withTimeout(Promise.resolve(5), 1000, 'quick'), 5);
  });
});
