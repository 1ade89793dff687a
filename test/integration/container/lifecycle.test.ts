// Real containers (runc + conmon) from the busybox fixture, checked through their logs, exit
// codes and the store. Root only.

import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCgroupFile } from '../../helpers/cgroup';
import { ContainerConfig, ContainerState, LinuxContainerResources } from '../../../src/gen/api';
import { stateOf } from '../../../src/store/container_store';
import type { ContainerManager } from '../../../src/container/manager';
import { execSync } from '../../../src/container/exec_sync';
import { DeadlineExceededError, FailedPreconditionError, AlreadyExistsError, NotFoundError } from '../../../src/errors';
import { makeRig, type Rig } from './fakes';
import { removeContainerCgroups } from '../../../src/runtime/cgroup_cleanup';
import { until } from '../../helpers/until';

const CRI_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d (stdout|stderr) (P|F) (.*)$/;

function cfg(name: string, args: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig {
  return ContainerConfig.fromPartial({
    metadata: { name, attempt: 0 },
    image: { image: 'busybox' },
    command: ['sh', '-c'],
    args,
    logPath: `${name}.log`,
    ...extra,
  });
}

function logLines(m: ContainerManager, id: string): { stream: string; text: string }[] {
  const row = m.get(id);
  const text = readFileSync(row.logPath, 'utf8');
  return text.split('\n').filter(Boolean).map((l) => {
    const x = CRI_LINE.exec(l);
    assert.ok(x, `not a CRI log line: ${l}`);
    return { stream: x[1]!, text: x[3]! };
  });
}

describe('containers: lifecycle with runc + conmon', function () {
  this.timeout(60_000);
  let rig: Rig;
  let m: ContainerManager;

  before(async () => {
    rig = await makeRig({ Env: ['PATH=/bin:/usr/bin', 'FROM_IMAGE=1'], WorkingDir: '/' });
    m = rig.manager();
    await m.recover();
  });
  after(async () => rig?.cleanup());

  it('runs args/env/workdir and records exit code and CRI log lines', async () => {
    const id = await m.create(rig.sandbox.id, cfg('c1', ['echo "args $0 $1"; echo "env $FOO $FROM_IMAGE"; pwd; echo oops >&2; exit 3', 'a1', 'a2'], {
      workingDir: '/tmp',
      envs: [{ key: 'FOO', value: Buffer.from('bar baz') }],
    }));
    assert.equal(stateOf(m.get(id)), ContainerState.CONTAINER_CREATED);
    await m.start(id);
    await m.waitExit(id, 10_000);
    const row = m.get(id);
    assert.equal(stateOf(row), ContainerState.CONTAINER_EXITED);
    assert.equal(row.exitCode, 3);
    assert.equal(row.reason, 'Error');
    assert.ok(row.finishedAt >= row.startedAt && row.startedAt > row.createdAt);
    assert.equal(row.logPath, join(rig.sandbox.logDirectory, 'c1.log'));
    const lines = logLines(m, id);
    assert.deepEqual(lines, [
      { stream: 'stdout', text: 'args a1 a2' },
      { stream: 'stdout', text: 'env bar baz 1' },
      { stream: 'stdout', text: '/tmp' },
      { stream: 'stderr', text: 'oops' },
    ]);
    await assert.rejects(m.start(id), FailedPreconditionError);
  });

  it('reserves the name and reports the holder', async () => {
    const id = await m.create(rig.sandbox.id, cfg('dup', ['true']));
    await assert.rejects(m.create(rig.sandbox.id, cfg('dup', ['true'])), (e: Error) => e instanceof AlreadyExistsError && e.message.includes(id));
    await m.remove(id);
    const again = await m.create(rig.sandbox.id, cfg('dup', ['true']));
    await m.remove(again);
  });

  it('rejects a missing image and a sandbox that is not ready, leaving nothing behind', async () => {
    await assert.rejects(m.create(rig.sandbox.id, cfg('x', ['true'], { image: { image: 'nope', annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' } })), NotFoundError);
    rig.sandbox.state = 'NOTREADY';
    try {
      await assert.rejects(m.create(rig.sandbox.id, cfg('x', ['true'])), FailedPreconditionError);
    } finally {
      rig.sandbox.state = 'READY';
    }
    assert.equal(m.store.list().filter((r) => r.nameKey.startsWith('x_')).length, 0);
  });

  it('refuses a command the image does not have as FAILED_PRECONDITION, leaving no runtime state or conmon socket', async () => {
    const state = rig.config.state;
    const before = { sockets: readdirSync(join(state, 'conmon-sockets')).length, runc: readdirSync(join(state, 'runc')).length };
    // runc's words (Go's exec.LookPath): the kernel never runs it
    await assert.rejects(m.create(rig.sandbox.id, cfg('nocmd', [], { command: ['no-such-command'] })), (e: Error) => e instanceof FailedPreconditionError && /executable file not found in \$PATH/.test(e.message));
    assert.equal(m.store.list().filter((r) => r.nameKey.startsWith('nocmd_')).length, 0);
    assert.deepEqual({ sockets: readdirSync(join(state, 'conmon-sockets')).length, runc: readdirSync(join(state, 'runc')).length }, before);
  });

  it('stops with the stop signal within the grace period', async () => {
    const id = await m.create(rig.sandbox.id, cfg('term', ["trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done"]));
    await m.start(id);
    await until('ready', () => logLines(m, id).some((l) => l.text === 'ready'));
    const t0 = Date.now();
    await m.stop(id, 10);
    assert.ok(Date.now() - t0 < 5000);
    const row = m.get(id);
    assert.equal(row.exitCode, 0);
    assert.equal(row.reason, 'Completed');
    assert.ok(logLines(m, id).some((l) => l.text === 'got TERM'));
    await m.stop(id, 10); // stopped: success
    await m.stop('f'.repeat(64), 10); // missing: success
  });

  it('SIGKILLs after the grace period when the signal is ignored', async () => {
    const id = await m.create(rig.sandbox.id, cfg('ignore', ["trap '' TERM; echo ready; while true; do sleep 0.1; done"]));
    await m.start(id);
    await until('ready', () => logLines(m, id).some((l) => l.text === 'ready'));
    const t0 = Date.now();
    await m.stop(id, 2);
    const took = Date.now() - t0;
    assert.ok(took >= 1900 && took < 8000, `took ${took} ms`);
    assert.equal(m.get(id).exitCode, 137);
  });

  it('uses the image stop signal', async () => {
    const rig2 = await makeRig({ StopSignal: 'SIGUSR1' });
    const m2 = rig2.manager();
    await m2.recover();
    try {
      const id = await m2.create(rig2.sandbox.id, cfg('usr1', ["trap 'echo got USR1; exit 4' USR1; echo ready; while true; do sleep 0.1; done"]));
      await m2.start(id);
      await until('ready', () => logLines(m2, id).some((l) => l.text === 'ready'));
      await m2.stop(id, 10);
      assert.equal(m2.get(id).exitCode, 4);
      assert.ok(logLines(m2, id).some((l) => l.text === 'got USR1'));
    } finally {
      await rig2.cleanup();
    }
  });

  it('ExecSync returns output and exit code; a timeout kills only the exec', async () => {
    const id = await m.create(rig.sandbox.id, cfg('exec', ['echo ready; while true; do sleep 0.1; done'], { envs: [{ key: 'E1', value: Buffer.from('v1') }] }));
    await m.start(id);
    const row = m.get(id);
    const rt = m.runtimeFor(row.handler);
    const r = await execSync(rt, id, row.bundle, ['sh', '-c', 'echo "out $E1"; echo err >&2; exit 5'], 10);
    assert.equal(r.stdout.toString(), 'out v1\n');
    assert.equal(r.stderr.toString(), 'err\n');
    assert.equal(r.exitCode, 5);
    const t0 = Date.now();
    await assert.rejects(execSync(rt, id, row.bundle, ['sleep', '4321'], 1), DeadlineExceededError);
    assert.ok(Date.now() - t0 < 5000);
    // Gone, not even a zombie under the container's init.
    const ps = await execSync(rt, id, row.bundle, ['ps', '-o', 'pid,stat,args'], 10);
    assert.ok(!ps.stdout.toString().includes('4321'), ps.stdout.toString());
    const st = await rt.state(id);
    assert.equal(st?.status, 'running');
    assert.equal(stateOf(m.get(id)), ContainerState.CONTAINER_RUNNING);
    await m.remove(id);
  });

  it('UpdateContainerResources applies limits synchronously and reports them', async () => {
    const id = await m.create(rig.sandbox.id, cfg('upd', ['while true; do sleep 0.1; done']));
    await m.start(id);
    const row = m.get(id);
    await m.updateResources(id, LinuxContainerResources.fromPartial({ memoryLimitInBytes: 48n << 20n, cpuShares: 256n }));
    assert.equal(readCgroupFile(join('memory', row.cgroupPath), 'memory.limit_in_bytes'), String(48 << 20));
    assert.equal(readCgroupFile(join('cpu', row.cgroupPath), 'cpu.shares'), '256');
    assert.equal(JSON.parse(m.get(id).resources).memoryLimitInBytes, String(48 << 20));
    await m.remove(id);
    await assert.rejects(m.updateResources(id, LinuxContainerResources.fromPartial({})), NotFoundError);
  });

  it('UpdateContainerResources raises and lowers a memory limit set at create, swap with it where swap is accounted', async () => {
    const limit = (mib: number) => BigInt(mib) << 20n;
    const id = await m.create(rig.sandbox.id, cfg('updmem', ['while true; do sleep 0.1; done'], { linux: { resources: LinuxContainerResources.fromPartial({ memoryLimitInBytes: limit(64) }) } }));
    await m.start(id);
    const dir = join('memory', m.get(id).cgroupPath);
    // cgroup v1 keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes (EINVAL otherwise):
    // raising the first alone past what create set the second to fails
    const memsw = existsSync(join('/sys/fs/cgroup', dir, 'memory.memsw.limit_in_bytes'));
    for (const mib of [128, 32]) {
      await m.updateResources(id, LinuxContainerResources.fromPartial({ memoryLimitInBytes: limit(mib) }));
      assert.equal(readCgroupFile(dir, 'memory.limit_in_bytes'), String(limit(mib)));
      // no swap unless asked for: memory + swap equal to the limit, as at create
      if (memsw) assert.equal(readCgroupFile(dir, 'memory.memsw.limit_in_bytes'), String(limit(mib)));
    }
    await m.remove(id);
  });

  it('ReopenContainerLog writes to a new file after a rename', async () => {
    const id = await m.create(rig.sandbox.id, cfg('rot', ['i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done']));
    await m.start(id);
    const path = m.get(id).logPath;
    await until('first lines', () => existsSync(path) && readFileSync(path, 'utf8').includes('tick 2'));
    renameSync(path, `${path}.1`);
    await m.reopenLog(id);
    assert.ok(existsSync(path), 'the new log file exists when ReopenContainerLog returns');
    await until('new lines', () => readFileSync(path, 'utf8').split('\n').length > 3);
    assert.ok(logLines(m, id).every((l) => l.text.startsWith('tick ')));
    await m.remove(id);
    await assert.rejects(m.reopenLog(id), NotFoundError);
  });

  it('reports an OOM kill as OOMKilled / 137', async () => {
    const id = await m.create(rig.sandbox.id, cfg('oom', ['tail /dev/zero'], {
      linux: { resources: { memoryLimitInBytes: 16n << 20n } as never, securityContext: undefined },
    }));
    await m.start(id);
    await m.waitExit(id, 30_000);
    const row = m.get(id);
    assert.equal(row.reason, 'OOMKilled');
    assert.equal(row.exitCode, 137);
  });

  it('recovers after a restart: running stays RUNNING, an exit while down is recorded', async () => {
    const a = await m.create(rig.sandbox.id, cfg('keep', ['while true; do sleep 0.1; done']));
    const b = await m.create(rig.sandbox.id, cfg('dies', ["trap 'exit 9' TERM; while true; do sleep 0.1; done"]));
    await m.start(a);
    await m.start(b);
    m.close(); // "nori is down": no more exit handling by this instance
    const rt = m.runtimeFor('');
    await rt.kill(b, 'SIGTERM');
    await until('exit file', () => existsSync(join(m.exitDir, b)));
    const m2 = rig.manager();
    await m2.recover();
    assert.equal(stateOf(m2.get(a)), ContainerState.CONTAINER_RUNNING);
    assert.equal(stateOf(m2.get(b)), ContainerState.CONTAINER_EXITED);
    assert.equal(m2.get(b).exitCode, 9);
    m = m2;
  });

  it('removes idempotently: mount, bundle and row gone', async () => {
    const id = await m.create(rig.sandbox.id, cfg('rm', ['while true; do sleep 0.1; done']));
    await m.start(id);
    const { bundle, cgroupPath } = m.get(id);
    const memCgroup = join('/sys/fs/cgroup/memory', cgroupPath);
    assert.ok(existsSync(memCgroup), `${memCgroup} exists while the container runs`);
    await m.remove(id);
    await m.remove(id);
    assert.equal(m.store.get(id), undefined);
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(id), 'unmounted before the call returns');
    // the files go right after the call
    await m.filesRemoved();
    assert.ok(!existsSync(bundle));
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(id));
    assert.equal(await m.runtimeFor('').state(id), undefined);
    assert.ok(!existsSync(join(m.runtimeFor('').handler.root, id)), 'runc state dir removed');
    assert.ok(!existsSync(memCgroup), 'container cgroup removed');
  });

  it('an exit releases runc state, cgroups and the rootfs mount at once; RemoveContainer is left the row and files', async () => {
    const id = await m.create(rig.sandbox.id, cfg('rm-exit', ['sleep 3600']));
    await m.start(id);
    const { bundle, cgroupPath } = m.get(id);
    const memCgroup = join('/sys/fs/cgroup/memory', cgroupPath);
    const rootfs = join(bundle, 'rootfs');
    assert.ok(existsSync(memCgroup));
    assert.ok(readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${rootfs} `), 'rootfs mounted while it runs');
    await m.stop(id, 0);
    // as containerd's task delete when it handles the exit: before any RemoveContainer
    assert.equal(m.get(id).exitCode, 137);
    assert.ok(!existsSync(memCgroup), 'container cgroup removed with the exit');
    assert.ok(!existsSync(join(m.runtimeFor('').handler.root, id)), 'runc state dir removed with the exit');
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${rootfs} `), 'rootfs unmounted with the exit');
    assert.ok(existsSync(bundle), 'the files stay until RemoveContainer');
    await m.remove(id);
    assert.equal(m.store.get(id), undefined);
    await m.filesRemoved();
    assert.ok(!existsSync(bundle));
  });

  it('remove falls back to the runtime delete when a process is left in the cgroup', async () => {
    const id = await m.create(rig.sandbox.id, cfg('rm-left', ['sleep 3600']));
    await m.start(id);
    const { cgroupPath } = m.get(id);
    const pidsCgroup = join('/sys/fs/cgroup/pids', cgroupPath);
    // A process of ours joins the container's cgroup, so rmdir cannot remove the cgroup after the
    // init exits: the in-process delete must give up and leave it to `runc delete --force`.
    const { spawn } = await import('node:child_process');
    const stray = spawn('sleep', ['3600'], { stdio: 'ignore' });
    try {
      writeFileSync(join(pidsCgroup, 'cgroup.procs'), String(stray.pid));
      await m.stop(id, 0);
      await m.remove(id);
      assert.equal(m.store.get(id), undefined);
      assert.ok(!existsSync(join(m.runtimeFor('').handler.root, id)), 'runc state dir removed');
      assert.equal(await m.runtimeFor('').state(id), undefined);
    } finally {
      stray.kill('SIGKILL');
      await new Promise((r) => stray.once('exit', r));
      removeContainerCgroups(cgroupPath);
    }
    assert.ok(!existsSync(pidsCgroup));
  });
});
