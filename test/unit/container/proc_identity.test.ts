import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  identify, isSameProcess, loadIdentity, parentIfSame, parseProcStat, saveIdentity, signalIfSame, stillRunning, type ProcStatReader,
} from '../../../src/proc/identity';
import { ContainerManager } from '../../../src/container/manager';
import { INIT_IDENTITY_FILE } from '../../../src/container/identity_file';
import type { ContainerRow } from '../../../src/store/container_store';

/** A /proc/<pid>/stat line with the given comm, state and start time (field 22). */
function stat(pid: number, comm: string, state: string, start: number): string {
  const fields = [state, ...Array.from({ length: 18 }, (_, i) => String(i + 1)), String(start), '4096', '12'];
  return `${pid} (${comm}) ${fields.join(' ')}\n`;
}

/** A fake /proc: pid → stat text. */
function fakeProc(entries: Record<number, string>): ProcStatReader {
  return (pid) => entries[pid];
}

describe('pid reuse guard (proc/identity)', () => {
  it('parses state and start time, whatever the comm holds', () => {
    assert.deepEqual(parseProcStat(stat(7, 'sh', 'S', 123456)), { state: 'S', ppid: 1, startTime: '123456' });
    assert.deepEqual(parseProcStat(stat(7, 'a) (b c', 'R', 99)), { state: 'R', ppid: 1, startTime: '99' });
    assert.equal(parseProcStat('garbage'), undefined);
    assert.equal(parseProcStat('7 (x) S 1 2'), undefined);
  });

  it('matches the real /proc for this process and knows a reaped child is gone', () => {
    const me = identify(process.pid);
    assert.ok(me && /^\d+$/.test(me.startTime));
    assert.ok(stillRunning(me));
    const child = spawnSync('true');
    assert.ok(child.pid);
    assert.equal(stillRunning({ pid: child.pid!, startTime: '1' }), false);
  });

  it('a pid reused by another process (other start time) is not the same process', () => {
    const saved = { pid: 4242, startTime: '1000' };
    assert.ok(stillRunning(saved, fakeProc({ 4242: stat(4242, 'sleep', 'S', 1000) })));
    assert.equal(stillRunning(saved, fakeProc({ 4242: stat(4242, 'bash', 'S', 5000) })), false);
    assert.equal(stillRunning(saved, fakeProc({})), false);
    // a zombie is exited, even with its own start time
    assert.equal(stillRunning(saved, fakeProc({ 4242: stat(4242, 'sleep', 'Z', 1000) })), false);
  });

  it("gives a process's parent only while the pid is still that process", () => {
    const saved = { pid: 4242, startTime: '1000' };
    const withParent = (state: string, start: number, ppid: number) => stat(4242, 'sleep', state, start).replace(`(sleep) ${state} 1 `, `(sleep) ${state} ${ppid} `);
    assert.equal(parentIfSame(saved, fakeProc({ 4242: withParent('S', 1000, 77) })), 77);
    assert.equal(parentIfSame(saved, fakeProc({ 4242: withParent('S', 5000, 77) })), undefined, 'pid reused');
    assert.equal(parentIfSame(saved, fakeProc({ 4242: withParent('Z', 1000, 77) })), undefined, 'zombie');
    assert.equal(parentIfSame(saved, fakeProc({})), undefined, 'gone');
    const me = identify(process.pid)!;
    assert.equal(parentIfSame(me), process.ppid, 'the real /proc');
  });

  it('signals only the same process', () => {
    const sent: [number, string][] = [];
    const kill = (pid: number, sig: NodeJS.Signals) => void sent.push([pid, sig]);
    const saved = { pid: 4242, startTime: '1000' };
    assert.equal(signalIfSame(saved, 'SIGKILL', fakeProc({ 4242: stat(4242, 'other', 'S', 2000) }), kill), false);
    assert.deepEqual(sent, []);
    assert.equal(signalIfSame(saved, 'SIGKILL', fakeProc({ 4242: stat(4242, 'conmon', 'S', 1000) }), kill), true);
    assert.deepEqual(sent, [[4242, 'SIGKILL']]);
  });

  it('identities round-trip through a file; a bad file is no identity', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nori-ident-'));
    try {
      saveIdentity(join(dir, 'id'), { pid: 12, startTime: '345' });
      assert.deepEqual(loadIdentity(join(dir, 'id')), { pid: 12, startTime: '345' });
      writeFileSync(join(dir, 'bad'), 'x y');
      assert.equal(loadIdentity(join(dir, 'bad')), undefined);
      assert.equal(loadIdentity(join(dir, 'missing')), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('ContainerManager.livePid', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'nori-livepid-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const row = (pid: number) => ({ id: 'c1', handler: '', bundle: dir, pid }) as ContainerRow;
    /** Just what livePid uses of the manager: the runtime's `state`. */
    const managerWith = (state: unknown) =>
      ({ runtimeFor: () => ({ state: async () => state }) }) as unknown as ContainerManager;
    const livePid = (m: ContainerManager, r: ContainerRow, read: ProcStatReader) => ContainerManager.prototype.livePid.call(m, r, read);

    it('trusts the recorded pid only while its start time matches', async () => {
      saveIdentity(join(dir, INIT_IDENTITY_FILE), { pid: 300, startTime: '777' });
      const m = managerWith({ status: 'running', pid: 300 });
      assert.equal(await livePid(m, row(300), fakeProc({ 300: stat(300, 'sh', 'S', 777) })), 300);
      // the container died while nori was down and pid 300 went to someone else
      assert.equal(await livePid(m, row(300), fakeProc({ 300: stat(300, 'sshd', 'S', 901) })), undefined);
      assert.equal(await livePid(m, row(300), fakeProc({})), undefined);
    });

    it('without a recorded identity, asks the runtime (which checks its own start time)', async () => {
      const none = fakeProc({});
      assert.equal(await livePid(managerWith({ status: 'running', pid: 300 }), row(300), none), 300);
      assert.equal(await livePid(managerWith({ status: 'stopped', pid: 0 }), row(300), none), undefined);
      assert.equal(await livePid(managerWith(undefined), row(300), none), undefined);
    });
  });

  describe('one guard for every kind of evidence (isSameProcess)', () => {
    it('checks the start time, the argv and the PID namespace of a live process, all given pieces at once', () => {
      const own = identify(process.pid)!;
      assert.ok(own, 'this process is alive');
      assert.equal(isSameProcess(process.pid, {}), true);
      assert.equal(isSameProcess(process.pid, { startTime: own.startTime }), true);
      assert.equal(isSameProcess(process.pid, { startTime: String(BigInt(own.startTime) + 1n) }), false);
      assert.equal(isSameProcess(process.pid, { argv: (a) => a[0] === process.argv0 || a[0] === process.execPath }), true);
      assert.equal(isSameProcess(process.pid, { argv: (a) => a.includes('-c') }), false);
      assert.equal(isSameProcess(process.pid, { pidNamespace: `/proc/${process.ppid}/ns/pid` }), true, 'the same PID namespace as its parent');
      assert.equal(isSameProcess(process.pid, { pidNamespace: '/proc/self/ns/net' }), false, 'a file of another namespace');
      assert.equal(isSameProcess(process.pid, { pidNamespace: '/nonexistent' }), false);
      assert.equal(isSameProcess(process.pid, { startTime: own.startTime, pidNamespace: '/proc/self/ns/net' }), false);
    });

    it('a gone pid, a zombie or a nonsense pid is never the same process', () => {
      const proc = fakeProc({ 7: stat(7, 'sh', 'Z', 5) });
      assert.equal(isSameProcess(7, {}, proc), false);
      assert.equal(isSameProcess(8, {}, proc), false);
      assert.equal(isSameProcess(0, {}), false);
      assert.equal(isSameProcess(-1, {}), false);
      const done = spawnSync('true');
      assert.equal(isSameProcess(done.pid!, { startTime: '1' }), false);
    });
  });
});
