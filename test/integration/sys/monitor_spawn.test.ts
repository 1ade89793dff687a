// spawnMonitor (native posix_spawn, no fork of the daemon) against the real kernel: what the
// started program sees is read back from the program itself (its fds, env and cwd), written to
// the sync pipe as conmon writes its report. Each test's process is reaped by the code under test.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnMonitor, type SpawnedMonitor } from '../../../src/sys/monitor_spawn';

function readAll(m: SpawnedMonitor): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    m.sync.on('data', (d: Buffer) => (buf += d.toString('utf8')));
    m.sync.on('end', () => resolve(buf));
    m.sync.on('error', reject);
  });
}

describe('sys: spawnMonitor (conmon without forking the daemon)', () => {
  let dir: string;
  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nori-monitor-spawn-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the program in cwd with exactly env, stdio on /dev/null and the sync pipe on fd 3', async () => {
    const script = 'echo "env=$(env | sort | tr "\\n" ,) cwd=$(pwd) in=$(readlink /proc/$$/fd/0) out=$(readlink /proc/$$/fd/1) err=$(readlink /proc/$$/fd/2) fd3=$(readlink /proc/$$/fd/3 | cut -c1-5)" >&3';
    const m = spawnMonitor('/bin/sh', ['-c', script], { PATH: '/usr/bin:/bin', _OCI_SYNCPIPE: '3' }, dir);
    assert.ok(m, 'the addon has spawnMonitor (npm run build:native)');
    const text = await readAll(m);
    await m.exited;
    const fields = Object.fromEntries(text.trim().split(' ').map((kv) => kv.split('=', 2) as [string, string]));
    const env = text.slice(text.indexOf('env=') + 4, text.indexOf(' cwd=')).split(',').filter(Boolean);
    // sh adds PWD (and may add SHLVL, _): what we passed is there and nothing of ours besides
    assert.ok(env.includes('PATH=/usr/bin:/bin'), text);
    assert.ok(env.includes('_OCI_SYNCPIPE=3'), text);
    assert.ok(!env.some((e) => e.startsWith('NODE_') || e.startsWith('HOME=')), `no inherited variables: ${text}`);
    assert.equal(fields.cwd, fs.realpathSync(dir));
    assert.equal(fields.in, '/dev/null');
    assert.equal(fields.out, '/dev/null');
    assert.equal(fields.err, '/dev/null');
    assert.equal(fields.fd3, 'pipe:');
    // reaped: no zombie left with that pid (the kernel reports no such process)
    assert.throws(() => process.kill(m.pid, 0), /ESRCH/);
  });

  it('a child that outlives the program keeps the pipe until it reports (conmon daemonizes)', async () => {
    const m = spawnMonitor('/bin/sh', ['-c', '(sleep 0.2; echo late >&3) & exit 0'], { PATH: '/usr/bin:/bin' }, dir);
    assert.ok(m);
    await m.exited;
    assert.equal((await readAll(m)).trim(), 'late');
  });

  it('a program that cannot be executed throws like spawn (ENOENT), and leaves no fd behind', () => {
    const before = fs.readdirSync('/proc/self/fd').length;
    assert.throws(() => spawnMonitor(path.join(dir, 'no-such-program'), [], {}, dir), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    assert.equal(fs.readdirSync('/proc/self/fd').length, before);
  });
});
