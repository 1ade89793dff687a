// Start-up recovery against what can change while nori is down: a container exits (its exit
// file arrives), its conmon dies, a store row is unreadable, the node reboots (/run emptied,
// every process, mount, cgroup, link and iptables rule gone). Each time the daemon must start,
// report the truth, let kubelet clean up, and leave nothing behind (test/helpers/leaks.ts).

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { assertNoLeaks, findLeaks, snapshot } from '../../helpers/leaks';
import { pushFixtures, startRegistry, type PushedFixtures, type TestRegistry } from '../../helpers/registry';
import { removeMasqRules, succeeds } from '../sandbox/env';
import { FaultEnv } from './faults_env';
import { until } from '../../helpers/until';

const run = promisify(execFile);

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function pidFile(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

describe('crash safety: start-up recovery of what changed while nori was down', function () {
  this.timeout(180_000);
  let reg: TestRegistry;
  let fx: PushedFixtures;
  let env: FaultEnv;
  let keeper = { pod: '', ctr: '', pid: 0 };
  const c = () => env.c;

  async function assertKeeper(): Promise<void> {
    assert.equal(await env.state(keeper.ctr), 'CONTAINER_RUNNING');
    assert.equal(await env.pidOf(keeper.ctr), keeper.pid);
    assert.ok(alive(keeper.pid));
  }

  before(async function () {
    if (!FaultEnv.usable()) this.skip();
    reg = await startRegistry();
    fx = await pushFixtures(reg, { names: ['busybox'] });
    env = new FaultEnv(fx);
    await env.start();
    keeper = await env.runningPod('keeper');
  });

  after(async () => {
    await env?.removeAllAndAssertClean(reg);
  });

  it('records an exit that happened while nori was down', async () => {
    const base = await snapshot(env.nori);
    const v = await env.runningPod('exited');
    await env.kill();
    process.kill(v.pid, 'SIGKILL');
    await until('the exit file', () => existsSync(path.join(env.nori.state, 'exits', v.ctr)));
    await env.restart();
    const st = (await c().call('ContainerStatus', { container_id: v.ctr })).status;
    assert.equal(st.state, 'CONTAINER_EXITED');
    assert.equal(st.exit_code, 137);
    await assertKeeper();
    await env.removePod(v.pod);
    await assertNoLeaks(env.nori, { baseline: base });
  });

  it('kills and records a container whose conmon died while nori was down', async () => {
    const base = await snapshot(env.nori);
    const v = await env.runningPod('orphaned');
    await env.kill();
    const conmon = pidFile(path.join(env.nori.state, 'containers', v.ctr, 'conmon.pid'));
    assert.ok(readFileSync(`/proc/${conmon}/cmdline`, 'utf8').split('\0').includes(v.ctr), 'the pid file names this container\'s conmon');
    process.kill(conmon, 'SIGKILL');
    await until('conmon gone', () => !alive(conmon));
    assert.ok(alive(v.pid), 'the container outlives its conmon');
    await env.restart();
    const st = (await c().call('ContainerStatus', { container_id: v.ctr })).status;
    assert.equal(st.state, 'CONTAINER_EXITED');
    assert.match(st.message, /conmon/);
    await until('the container killed', () => !alive(v.pid));
    await assertKeeper();
    await env.removePod(v.pod);
    await assertNoLeaks(env.nori, { baseline: base });
  });

  it('quarantines unreadable store rows, starts anyway, and frees what a quarantined pod held', async () => {
    const base = await snapshot(env.nori);
    // a real pod (IP lease, veth, pins, pod init, cgroup) whose row will not decode
    const real = await env.runPod('corrupt');
    await env.kill();
    const db = new Database(path.join(env.nori.root, 'nori.db'));
    const good = db.prepare('SELECT * FROM sandboxes WHERE id = ?').get(keeper.pod) as Record<string, unknown>;
    const hex = () => randomBytes(32).toString('hex');
    const bad = { notJson: real, noInternals: hex(), badConfig: hex(), container: hex() };
    db.prepare('UPDATE sandboxes SET record = ? WHERE id = ?').run('{"id": "trunc', real);
    const ins = db.prepare(
      'INSERT INTO sandboxes (id, name_key, state, created_at_ns, config, record, pod_init_pid, network_torn_down, cni_result) VALUES (?, ?, ?, ?, ?, ?, NULL, 0, NULL)',
    );
    ins.run(bad.noInternals, 'bad2', 'READY', '1', good.config, JSON.stringify({ id: bad.noInternals, nsPaths: {} }));
    ins.run(bad.badConfig, 'bad3', 'NOTREADY', '1', Buffer.from([0x0a, 0xff, 0x01]), (good.record as string).replaceAll(keeper.pod, bad.badConfig));
    db.prepare(
      `INSERT INTO containers (id, sandbox_id, name_key, image_ref, image_id, config, handler, bundle, log_path, created_at)
       VALUES (?, ?, 'bad4', 'x', 'x', ?, 'runc', '/nonexistent', '', 1)`,
    ).run(bad.container, keeper.pod, Buffer.from([0x0a, 0x20, 0x0a]));
    db.close();

    await env.restart();
    const quarantined = env.nori.logs.filter((l) => l.msg?.startsWith('unreadable store record quarantined'));
    assert.deepEqual(quarantined.map((l) => l.id).sort(), Object.values(bad).sort());
    const files = readdirSync(path.join(env.nori.root, 'quarantine'));
    assert.equal(files.length, 4);
    for (const f of files) {
      const q = JSON.parse(readFileSync(path.join(env.nori.root, 'quarantine', f), 'utf8'));
      assert.ok(Object.values(bad).includes(q.row.id), f);
      assert.ok(q.error, 'the reason is kept');
    }
    const pods = (await c().call('ListPodSandbox', {})).items.map((p: any) => p.id);
    assert.deepEqual(pods, [keeper.pod]);
    await assertKeeper();
    await assertNoLeaks(env.nori, { baseline: base });
    rmSync(path.join(env.nori.root, 'quarantine'), { recursive: true });
  });

  it('after a node reboot (/run emptied): pods NOTREADY, containers EXITED, kubelet cleans up, new pods run', async () => {
    const v = await env.runningPod('rebooted');
    const pods = [keeper.pod, v.pod];
    const ctrs = [keeper.ctr, v.ctr];
    await env.kill();

    // --- what a reboot does to this daemon's world: every process goes (pod inits by their
    // store record, checked against their pin; conmon and containers by their pid files)
    const state = env.nori.state;
    const db = new Database(path.join(env.nori.root, 'nori.db'), { readonly: true });
    for (const r of db.prepare('SELECT id, pod_init_pid AS pid FROM sandboxes WHERE pod_init_pid > 0').all() as { id: string; pid: number }[]) {
      const pin = path.join(state, 'ns', 'pid', r.id);
      if (alive(r.pid) && statSync(`/proc/${r.pid}/ns/pid`).ino === statSync(pin).ino) process.kill(r.pid, 'SIGKILL');
    }
    db.close();
    for (const id of readdirSync(path.join(state, 'containers'))) {
      for (const f of ['conmon.pid', 'pidfile']) {
        const pid = pidFile(path.join(state, 'containers', id, f));
        if (pid && alive(pid) && (f === 'pidfile' || readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(id))) process.kill(pid, 'SIGKILL');
      }
    }
    await until('every process of the daemon gone', async () => !(await findLeaks(env.nori)).processes);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((p) => p.startsWith(`${state}/`))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) await run('umount', ['-l', m]);
    rmSync(state, { recursive: true, force: true });
    const cgroups: string[] = [];
    for (const h of readdirSync('/sys/fs/cgroup')) {
      const walk = (d: string) => {
        for (const n of readdirSync(d)) if (statSync(path.join(d, n)).isDirectory()) walk(path.join(d, n));
        cgroups.push(d);
      };
      const top = path.join('/sys/fs/cgroup', h, env.cgroupPrefix);
      if (existsSync(top)) walk(top);
    }
    for (const d of cgroups) rmdirSync(d);
    await removeMasqRules(env.netName);
    await succeeds('ip', ['link', 'del', env.bridge]);
    if (FaultEnv.builtin) await succeeds('nft', ['delete', 'table', 'inet', `nori_${env.bridge}`]); // the built-in network's table

    // --- the daemon after the reboot
    await env.restart();
    for (const p of pods) assert.equal((await c().call('PodSandboxStatus', { pod_sandbox_id: p })).status.state, 'SANDBOX_NOTREADY');
    for (const id of ctrs) {
      const st = (await c().call('ContainerStatus', { container_id: id })).status;
      assert.equal(st.state, 'CONTAINER_EXITED');
      assert.equal(st.exit_code, 255);
      assert.equal(st.reason, 'Unknown');
    }
    // kubelet: new sandboxes (next attempt) for the pods it wants, then the dead ones go
    const again = await env.runningPod('rebooted', 1);
    assert.equal(await env.state(again.ctr), 'CONTAINER_RUNNING');
    const ip = (await c().call('PodSandboxStatus', { pod_sandbox_id: again.pod })).status.network.ip;
    assert.ok(ip, 'the new pod has an IP');
    for (const p of pods) await env.removePod(p);
    const left = await snapshot(env.nori);
    const leases = FaultEnv.builtin ? left.rows!.filter((r) => r.startsWith('net_leases:')) : left.leases!;
    assert.equal(leases.length, 1, `only the new pod holds a lease: ${leases}`);
    await env.removePod(again.pod);
    for (const i of (await c().call('ListImages', {})).images) await c().call('RemoveImage', { image: { image: i.id } });
    await assertNoLeaks(env.nori);
  });
});
