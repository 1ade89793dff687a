// ExecSync's fast path (nori-exec) against `runc exec` on the same containers: the same probe
// through both, compared field by field — credentials, capabilities, no_new_privs, seccomp,
// cgroups, namespaces, cwd, env, rlimits, umask, oom_score_adj, stdio ownership, and the errno of
// a syscall newer than the profile (runc's ENOSYS stub). Then exit codes, stdout/stderr, the
// 16 MiB cap, timeouts, background children, missing executables and the fallback when the
// helper is absent. Root only (real runc + conmon + nori-exec).

import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { NativeUsernsSys } from '../../../src/sys/userns';
import { unpinNamespace } from '../../../src/sys/unpin';
import { getSys } from '../../../src/sys';
import type { SandboxRecord } from '../../../src/sandbox/api';
import { join } from 'node:path';
import { ContainerConfig, ContainerState, type LinuxContainerSecurityContext } from '../../../src/gen/api';
import { stateOf } from '../../../src/store/container_store';
import type { ContainerManager } from '../../../src/container/manager';
import { EXEC_OUTPUT_CAP, defaultExecHelper, execSync, type ExecSyncResult } from '../../../src/container/exec_sync';
import { PROFILE_FILE } from '../../../src/container/exec_profile_host';
import { startExec } from '../../../src/container/exec_session';
import { DeadlineExceededError } from '../../../src/errors';
import type { Logger } from '../../../src/log';
import { makeRig, type Rig } from './fakes';

const PROBE = [
  'echo "== status"',
  "grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/$$/status",
  'echo "== cgroup"; cat /proc/$$/cgroup',
  'echo "== ns"; cd /proc/$$/ns && for f in *; do echo "$f $(readlink $f)"; done; cd - >/dev/null',
  'echo "== cwd"; pwd',
  'echo "== environ"; tr "\\0" "\\n" < /proc/$$/environ',
  'echo "== limits"; cat /proc/$$/limits',
  'echo "== umask"; umask',
  'echo "== oom"; cat /proc/$$/oom_score_adj',
  'echo "== id"; id',
  'echo "== stdout owner"; stat -L -c "%u %g %a" /proc/$$/fd/1',
  'echo "== /dev/stdout"; echo written > /dev/stdout',
  'echo "== mkdir"; mkdir /tmp/probe-dir 2>&1 && rmdir /tmp/probe-dir && echo mkdir-ok',
  'echo "== hostname"; hostname',
].join('\n');

function sections(out: string): Map<string, string> {
  const m = new Map<string, string>();
  let cur = '';
  for (const line of out.split('\n')) {
    const h = /^== (.*)$/.exec(line);
    if (h) m.set((cur = h[1]!), '');
    else if (cur) m.set(cur, m.get(cur)! + line + '\n');
  }
  return m;
}

function status(text: string): Record<string, string> {
  const o: Record<string, string> = {};
  for (const l of text.trim().split('\n')) {
    const [k, v] = l.split(':\t');
    o[k!] = (v ?? '').trim();
  }
  return o;
}

interface Case {
  name: string;
  sc?: Partial<LinuxContainerSecurityContext>;
  extra?: Partial<ContainerConfig>;
  privilegedPod?: boolean;
  expect?: (st: Record<string, string>, s: Map<string, string>) => void;
}

describe('ExecSync fast path (nori-exec) vs runc exec', function () {
  this.timeout(120_000);
  let rig: Rig;
  let m: ContainerManager;
  let dir: string;
  const helper = defaultExecHelper();

  before(async function () {
    if (!existsSync(helper)) throw new Error(`${helper} is not built (npm run build:native)`);
    dir = mkdtempSync('/tmp/nori-exec-fast-');
    rig = await makeRig({ Env: ['PATH=/bin:/usr/bin', 'FROM_IMAGE=1', 'DUP=image'], WorkingDir: '/' });
    m = rig.manager();
    await m.recover();
  });
  after(async () => {
    await removeUsernsPod();
    await rig?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function start(name: string, sc: Partial<LinuxContainerSecurityContext> = {}, extra: Partial<ContainerConfig> = {}): Promise<string> {
    const id = await m.create(rig.sandbox.id, ContainerConfig.fromPartial({
      metadata: { name, attempt: 0 },
      image: { image: 'busybox' },
      command: ['sleep', '3600'],
      linux: { securityContext: sc as LinuxContainerSecurityContext },
      ...extra,
    }));
    await m.start(id);
    return id;
  }

  /** Why the last calls went through runc (the fallback's debug lines). */
  const fallbacks: string[] = [];
  const log = { debug: (o: { reason: string }) => fallbacks.push(o.reason) } as unknown as Logger;
  const run = (id: string, cmd: string[], timeout = 20, helperPath = helper): Promise<ExecSyncResult> => {
    const row = m.get(id);
    return execSync(m.runtimeFor(row.handler), id, row.bundle, cmd, timeout, { initPid: row.pid, helper: helperPath, log });
  };

  const cases: Case[] = [
    {
      name: 'default',
      extra: { workingDir: '/tmp', envs: [{ key: 'DUP', value: Buffer.from('cri') }, { key: 'WITH_NL', value: Buffer.from('a\nb') }] },
      expect: (st, s) => {
        assert.equal(st.Uid, '0\t0\t0\t0');
        assert.equal(st.Seccomp, '0');
        assert.equal(s.get('cwd'), '/tmp\n');
        assert.match(s.get('environ')!, /^DUP=cri$/m);
      },
    },
    {
      name: 'non-root with run_as_group and supplemental groups',
      sc: { runAsUser: { value: 1000n }, runAsGroup: { value: 2000n }, supplementalGroups: [3000n, 4000n] },
      extra: { linux: undefined },
      expect: (st, s) => {
        assert.equal(st.Uid, '1000\t1000\t1000\t1000');
        assert.equal(st.Gid, '2000\t2000\t2000\t2000');
        assert.equal(st.Groups, '2000 3000 4000'); // the primary group too, as containerd lists it
        assert.equal(st.CapEff, '0000000000000000');
        assert.match(s.get('stdout owner')!, /^1000 /);
        assert.equal(s.get('/dev/stdout'), 'written\n');
      },
    },
    {
      name: 'capabilities: drop ALL, add NET_ADMIN and SYS_TIME',
      sc: { capabilities: { dropCapabilities: ['ALL'], addCapabilities: ['NET_ADMIN', 'SYS_TIME'], addAmbientCapabilities: [] } },
      expect: (st) => assert.equal(BigInt('0x' + st.CapBnd), (1n << 12n) | (1n << 25n)),
    },
    {
      name: 'non-root with an ambient capability',
      sc: { runAsUser: { value: 1000n }, capabilities: { addCapabilities: ['NET_BIND_SERVICE'], dropCapabilities: [], addAmbientCapabilities: ['NET_BIND_SERVICE'] } },
    },
    {
      name: 'privileged',
      sc: { privileged: true },
      privilegedPod: true,
      expect: (st) => assert.equal(st.Seccomp, '0'),
    },
    {
      name: 'no_new_privs with RuntimeDefault seccomp',
      sc: { noNewPrivs: true, seccomp: { profileType: 0 /* RuntimeDefault */, localhostRef: '' } },
      expect: (st) => {
        assert.equal(st.NoNewPrivs, '1');
        assert.equal(st.Seccomp, '2');
      },
    },
    {
      name: 'seccomp RuntimeDefault',
      sc: { seccomp: { profileType: 0, localhostRef: '' } },
      expect: (st) => {
        assert.equal(st.NoNewPrivs, '0');
        assert.equal(st.Seccomp, '2');
      },
    },
    { name: 'seccomp Unconfined', sc: { seccomp: { profileType: 1, localhostRef: '' } }, expect: (st) => assert.equal(st.Seccomp, '0') },
    {
      name: 'seccomp Localhost profile blocking mkdir',
      sc: { seccomp: { profileType: 2, localhostRef: 'PROFILE' } },
      expect: (_st, s) => assert.match(s.get('mkdir')!, /Operation not supported/),
    },
    {
      name: 'readonly rootfs with oom_score_adj 500',
      sc: { readonlyRootfs: true },
      extra: { linux: { resources: { oomScoreAdj: 500n } } as ContainerConfig['linux'] },
      expect: (_st, s) => {
        assert.equal(s.get('oom'), '500\n');
        assert.match(s.get('mkdir')!, /Read-only file system/);
      },
    },
  ];

  // The same comparison in a pod with its own user namespace (hostUsers: false): nori-exec
  // enters it first and becomes its root, as runc's nsexec does, before the container's user.
  let usernsPod: SandboxRecord | undefined;
  async function usernsSandbox(): Promise<SandboxRecord> {
    if (usernsPod) return usernsPod;
    const pod = join(rig.dir, 'uns-pod');
    mkdirSync(pod, { recursive: true });
    // Its root reaches the rootfs by path: the rig's temp dir must be searchable.
    chmodSync(rig.dir, 0o711);
    const maps = [{ containerId: 0, hostId: 2_600_000, length: 65536 }];
    const ns = { user: join(pod, 'user'), net: join(pod, 'net'), ipc: join(pod, 'ipc'), uts: join(pod, 'uts') };
    await new NativeUsernsSys().pinUserNamespace({
      user: ns.user, targets: { net: ns.net, ipc: ns.ipc, uts: ns.uts }, uidMappings: maps, gidMappings: maps, hostname: 'testpod',
    });
    usernsPod = { ...rig.sandbox, id: randomBytes(32).toString('hex'), nsPaths: ns, userns: { uidMappings: maps, gidMappings: maps } };
    rig.sandboxes.records.set(usernsPod.id, usernsPod);
    return usernsPod;
  }
  async function removeUsernsPod(): Promise<void> {
    if (!usernsPod) return;
    for (const r of m.store.list().filter((x) => x.sandboxId === usernsPod!.id)) await m.remove(r.id).catch(() => undefined);
    for (const f of ['net', 'ipc', 'uts', 'user'] as const) await unpinNamespace(getSys(), usernsPod.nsPaths[f]!);
    usernsPod = undefined;
  }

  const variants: Array<{ label: string; cases: Case[]; userns: boolean }> = [
    { label: '', cases, userns: false },
    {
      label: ' (user namespace)',
      userns: true,
      cases: cases.filter((c) => !c.privilegedPod && !c.name.startsWith('readonly')).concat([{
        name: 'the pod root is a mapped host id',
        expect: (st) => assert.equal(st.Uid, '0\t0\t0\t0'),
      }]),
    },
  ];
  for (const v of variants) for (const c of v.cases) {
    it(`applies the same process spec as runc exec${v.label}: ${c.name}`, async () => {
      const podId = v.userns ? (await usernsSandbox()).id : rig.sandbox.id;
      let sc = { ...(c.sc ?? {}) };
      if (c.name.includes('Localhost')) {
        const profile = join(dir, 'block-mkdir.json');
        writeFileSync(profile, JSON.stringify({
          defaultAction: 'SCMP_ACT_ALLOW',
          syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 95 }],
        }));
        sc = { ...sc, seccomp: { profileType: 2, localhostRef: profile } };
      }
      if (c.privilegedPod) rig.sandbox.securityContext = { privileged: true };
      let id: string;
      try {
        const extra = { ...(c.extra ?? {}) };
        const linux = { ...((extra.linux as object) ?? {}), securityContext: sc } as ContainerConfig['linux'];
        id = await m.create(podId, ContainerConfig.fromPartial({
          metadata: { name: c.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase() + (v.userns ? '-uns' : ''), attempt: 0 },
          image: { image: 'busybox' },
          command: ['sleep', '3600'],
          ...extra,
          linux,
        }));
      } finally {
        rig.sandbox.securityContext = {};
      }
      await m.start(id);
      const viaRunc = await run(id, ['sh', '-c', PROBE], 20, '');
      const profilePath = join(m.get(id).bundle, PROFILE_FILE);
      assert.ok(!existsSync(profilePath), 'the runc path must not build a profile');
      const before = fallbacks.length;
      const fast = await run(id, ['sh', '-c', PROBE]);
      assert.deepEqual(fallbacks.slice(before), [], 'the fast path fell back');
      assert.ok(existsSync(profilePath), `the fast path was not taken for ${c.name}: ${fallbacks.join('; ')}`);
      assert.equal(fast.exitCode, viaRunc.exitCode, `exit code; stderr fast=${fast.stderr} runc=${viaRunc.stderr}`);
      assert.equal(fast.stderr.toString(), viaRunc.stderr.toString());
      const a = sections(fast.stdout.toString());
      const b = sections(viaRunc.stdout.toString());
      assert.ok(a.size >= 13, `probe output incomplete: ${fast.stdout}`);
      const sa = status(a.get('status')!);
      const sb = status(b.get('status')!);
      for (const k of ['Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp', 'Seccomp_filters']) {
        assert.equal(sa[k], sb[k], `${k} differs (fast ${sa[k]}, runc ${sb[k]})`);
      }
      for (const [k, val] of b) assert.equal(a.get(k), val, `section "${k}" differs`);
      c.expect?.(sa, a);
      if (v.userns) {
        // From the host: the command's uids are in the pod's range, and it is in the pod's user namespace.
        assert.match(a.get('ns')!, /^user user:\[\d+\]$/m);
        assert.equal(/^user (.*)$/m.exec(a.get('ns')!)![1], `user:[${statSync(usernsPod!.nsPaths.user!).ino}]`);
      }
    });
  }

  // runc puts an -ENOSYS stub before the filter (libcontainer/seccomp/patchbpf): a syscall number
  // past the largest the profile names gets ENOSYS, not the default action. The profile here is
  // the host's RuntimeDefault with EPERM as the default errno, so the stub is what tells them apart.
  it('a syscall newer than the profile gets the same errno in an exec as in the init (runc\'s ENOSYS stub)', async () => {
    const src = join(dir, 'sysno.c');
    writeFileSync(src, '#include <errno.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n' +
      'int main(int c, char **v) { for (int i = 1; i < c; i++) { long r = syscall(atol(v[i]), 0, 0, 0, 0, 0, 0);' +
      ' printf("%s=%d\\n", v[i], r < 0 ? errno : 0); } return 0; }\n');
    execFileSync('gcc', ['-static', '-O2', '-o', join(dir, 'sysno'), src]);
    const profile = JSON.parse(readFileSync('/usr/share/containers/seccomp.json', 'utf8'));
    profile.defaultErrnoRet = 1;
    const path = join(dir, 'eperm-default.json');
    writeFileSync(path, JSON.stringify(profile));
    // 1000: past every syscall; 246 (kexec_load): below the largest, allowed only with CAP_SYS_BOOT
    const nrs = ['1000', '246'];
    const id = await m.create(rig.sandbox.id, ContainerConfig.fromPartial({
      metadata: { name: 'enosys', attempt: 0 },
      image: { image: 'busybox' },
      command: ['sh', '-c', `/sysno ${nrs.join(' ')} > /init.out; sleep 3600`],
      linux: { securityContext: { seccomp: { profileType: 2, localhostRef: path } } as LinuxContainerSecurityContext },
    }));
    const rootfs = join(m.get(id).bundle, 'rootfs');
    copyFileSync(join(dir, 'sysno'), join(rootfs, 'sysno'));
    chmodSync(join(rootfs, 'sysno'), 0o755);
    await m.start(id);
    while (!existsSync(join(rootfs, 'init.out')) || !readFileSync(join(rootfs, 'init.out'), 'utf8').includes('\n246=')) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const init = readFileSync(join(rootfs, 'init.out'), 'utf8');
    assert.equal(init, `1000=38\n246=1\n`, 'runc\'s init: ENOSYS past the profile, the default errno below');
    const viaRunc = await run(id, ['/sysno', ...nrs], 20, '');
    const before = fallbacks.length;
    const fast = await run(id, ['/sysno', ...nrs]);
    assert.deepEqual(fallbacks.slice(before), [], 'the fast path fell back');
    assert.equal(viaRunc.stdout.toString(), init);
    assert.equal(fast.stdout.toString(), init);
  });

  describe('behaviour', () => {
    let id: string;
    before(async () => {
      id = await start('behaviour');
    });

    let fallbacksBefore = 0;
    beforeEach(() => (fallbacksBefore = fallbacks.length));
    const noFallback = () => assert.deepEqual(fallbacks.slice(fallbacksBefore), [], 'the fast path fell back');

    it('propagates exit codes and keeps stdout and stderr apart', async () => {
      const r = await run(id, ['sh', '-c', 'echo out; echo err >&2; exit 7']);
      assert.deepEqual([r.exitCode, r.stdout.toString(), r.stderr.toString()], [7, 'out\n', 'err\n']);
      const k = await run(id, ['sh', '-c', 'kill -9 $$']);
      assert.equal(k.exitCode, 137);
      noFallback();
    });

    it('caps each stream at 16 MiB', async () => {
      const r = await run(id, ['sh', '-c', 'head -c 20000000 /dev/zero; head -c 17000000 /dev/zero >&2']);
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout.length, EXEC_OUTPUT_CAP);
      assert.equal(r.stderr.length, EXEC_OUTPUT_CAP);
      noFallback();
    });

    it('a timeout kills only the exec: the container keeps running', async () => {
      const t0 = Date.now();
      await assert.rejects(run(id, ['sh', '-c', 'sleep 600 & sleep 500'], 1), DeadlineExceededError);
      assert.ok(Date.now() - t0 < 4000, `took ${Date.now() - t0} ms`);
      assert.equal(stateOf(m.get(id)), ContainerState.CONTAINER_RUNNING);
      process.kill(m.get(id).pid, 0); // init alive
      const ps = await run(id, ['ps', '-o', 'args']);
      assert.doesNotMatch(ps.stdout.toString(), /sleep (600|500)/, 'the timed-out process group is gone');
      noFallback();
    });

    it('a background child holding the pipes does not hang the call', async () => {
      const t0 = Date.now();
      const r = await run(id, ['sh', '-c', 'sleep 30 & echo started'], 20);
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout.toString(), 'started\n');
      assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
      noFallback();
    });

    it('a missing executable gives what runc exec gives', async () => {
      const fast = await run(id, ['/no/such/binary']);
      const viaRunc = await run(id, ['/no/such/binary'], 20, '');
      assert.equal(fast.exitCode, viaRunc.exitCode);
      assert.notEqual(fast.exitCode, 0);
      const msg = (b: Buffer) => b.toString().replace(/^time="[^"]*" /, '');
      assert.equal(msg(fast.stderr), msg(viaRunc.stderr));
      const bare = await run(id, ['no-such-command']);
      assert.notEqual(bare.exitCode, 0);
      assert.match(bare.stderr.toString(), /no-such-command/);
      // The helper found nothing to run and left it to runc, which reports it in its own words.
      assert.equal(fallbacks.length - fallbacksBefore, 3); // fast → runc, runc only, fast → runc
      assert.match(fallbacks[fallbacks.length - 1]!, /executable file not found in \$PATH/);
      // A name with a newline splits the helper's status over lines (the fuzz test found it):
      // still runc's answer, not INTERNAL.
      const split = await run(id, ['no-such\ncommand']);
      assert.notEqual(split.exitCode, 0);
      assert.equal(fallbacks.length - fallbacksBefore, 4);
      assert.match(fallbacks[fallbacks.length - 1]!, /no-such\ncommand.*executable file not found/s);
    });

    it('runs from a sealed in-memory copy, so the container cannot reach the host binary (CVE-2019-5736)', async () => {
      await run(id, ['sh', '-c', 'printf "#!/proc/self/exe\\n" > /tmp/evil && chmod +x /tmp/evil']);
      const before = readFileSync(helper);
      // The interpreter is the helper itself: it runs inside the container, as nothing useful.
      const r = await run(id, ['/tmp/evil']);
      assert.equal(r.exitCode, 2);
      assert.match(r.stderr.toString(), /usage: nori-exec/);
      noFallback();
      const row = m.get(id);
      const child = spawn(helper, ['run', join(row.bundle, PROFILE_FILE), '5', 'sleep', '2'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
      try {
        await new Promise((r) => child.stdio[3]!.once('data', r));
        assert.match(readlinkSync(`/proc/${child.pid}/exe`), /^\/memfd:nori-exec/);
      } finally {
        child.kill('SIGKILL');
      }
      assert.ok(readFileSync(helper).equals(before));
    });

    it('a tty Exec runs through the helper: terminal, input, resize, exit code', async () => {
      const row = m.get(id);
      const p = await startExec({ runtime: m.runtimeFor(row.handler), containerId: id, bundle: row.bundle, cmd: ['sh'], opts: { tty: true, stdin: true, stdout: true, stderr: false }, log });
      noFallback();
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.resize(123, 45);
      await new Promise((r) => setTimeout(r, 300));
      p.stdin!.write('tty; stty size; echo "term=$TERM"; exit 6\n');
      const { exitCode } = await p.wait();
      assert.equal(exitCode, 6);
      assert.match(out, /\/dev\/pts\/\d+\r\n/);
      assert.match(out, /45 123\r\n/);
      assert.match(out, /term=xterm\r\n/);
    });

    it('falls back to runc exec when the helper is absent', async () => {
      const row = m.get(id);
      const fresh = await start('fallback');
      const freshRow = m.get(fresh);
      const r = await run(fresh, ['sh', '-c', 'echo via-runc; exit 3'], 20, join(dir, 'no-nori-exec'));
      assert.deepEqual([r.exitCode, r.stdout.toString()], [3, 'via-runc\n']);
      assert.ok(!existsSync(join(freshRow.bundle, PROFILE_FILE)), 'no profile without a helper');
      assert.match(fallbacks[fallbacks.length - 1]!, /no-nori-exec is missing/);
      assert.ok(existsSync(row.bundle));
    });
  });
});
