// Image volumes (Mount.image, KEP-4639) seen from inside real containers: another image's files,
// read-only, whole or from an image_sub_path, with runc and crun; bad sub paths and missing images
// refused clearly; RemoveImage of a mounted image refused while the container exists (and the
// container keeps reading it); nothing left behind by remove, nor by kill -9 mid-create or with
// the container running, a restart and RemovePodSandbox.

import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNori, type NoriProcess } from '../../helpers/daemon';
import type { Msg } from '../../helpers/cri-client';
import type { Inside, Pod } from './inside_harness';
import { until } from '../../helpers/until';
import { startInsideForSuite } from './inside_setup';

const CRUN = '/usr/bin/crun';
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;
const INDEX_HTML = readFileSync(join(__dirname, '..', '..', '..', '..', 'hack', 'images', 'index.html'), 'utf8');

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(`${dir}/`));
}

/** Nothing nori staged is mounted or left on disk. */
function assertNothingStaged(state: string): void {
  assert.deepEqual(mountsUnder(join(state, 'prepared-mounts')), []);
  const dir = join(state, 'prepared-mounts');
  assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
}

describe('containers from inside: image volumes', function () {
  this.timeout(120_000);
  let t: Inside;
  const handlers = existsSync(CRUN) ? ['runc', 'crun'] : ['runc'];
  const pods = new Map<string, Pod>();
  const vol = (image: string, sub = '', containerPath = '/vol'): Msg => ({ container_path: containerPath, image: { image }, readonly: true, image_sub_path: sub });

  startInsideForSuite({ images: ['busybox', 'web', 'layers'] }, async (inside) => {
    t = inside;
    for (const h of handlers) pods.set(h, await t.pod({ handler: h, name: `iv-${h}` }));
  });

  for (const h of handlers) {
    it(`${h}: the whole image is mounted read-only`, async () => {
      const r = await t.run(pods.get(h)!, `whole-${h}`, 'cat /vol/www/index.html; touch /vol/x 2>&1; test -x /vol/bin/busybox && echo has-busybox', {
        mounts: [vol(t.image('web'))],
      });
      assert.equal(r.out, `${INDEX_HTML.trimEnd()}\ntouch: /vol/x: Read-only file system\nhas-busybox`);
      assertNothingStaged(t.nori.state);
    });

    it(`${h}: image_sub_path mounts a directory of the image, symlinks resolved inside it`, async () => {
      const r = await t.run(pods.get(h)!, `sub-${h}`, 'cat /www/index.html; echo ---; ls /viasym; echo ---; ls /direct; echo ---; mkdir /viasym/n 2>&1', {
        mounts: [vol(t.image('web'), 'www', '/www'), vol(t.image('layers'), 'sym/dir', '/viasym'), vol(t.image('layers'), 'a', '/direct')],
      });
      const [html, viaSym, direct, mkdir] = r.out.split('\n---\n');
      assert.equal(html, INDEX_HTML.trimEnd());
      // sym/dir is a symlink to ../a in the image: the same directory as a.
      assert.ok(viaSym!.split('\n').includes('file1'), viaSym);
      assert.equal(viaSym, direct);
      assert.match(mkdir!, /Read-only file system/);
      // Status lists the mounts as asked.
      const st = (await t.nori.client.call('ContainerStatus', { container_id: r.id })).status;
      assert.deepEqual(st.mounts.map((m: Msg) => [m.container_path, m.image?.image, m.image_sub_path]), [
        ['/www', t.image('web'), 'www'], ['/viasym', t.image('layers'), 'sym/dir'], ['/direct', t.image('layers'), 'a'],
      ]);
    });
  }

  const badSubPaths: [string, string, number, RegExp][] = [
    ['a ".." component', '../etc', INVALID_ARGUMENT, /must not contain "\.\."/],
    ['an absolute path', '/www', INVALID_ARGUMENT, /relative/],
    ['a missing path', 'nope/deeper', NOT_FOUND, /does not exist in the image/],
    ['a file', 'www/index.html', INVALID_ARGUMENT, /not a directory/],
  ];
  for (const [name, sub, code, re] of badSubPaths) {
    it(`image_sub_path with ${name} is refused, leaving nothing`, async () => {
      await assert.rejects(
        t.create(pods.get('runc')!, `badsub-${name.replace(/[^a-z]/g, '')}`, 'true', { mounts: [vol(t.image('web'), sub)] }),
        (e: any) => e.code === code && re.test(e.details),
      );
      assertNothingStaged(t.nori.state);
    });
  }

  it('an image that was not pulled is refused with NotFound, saying so', async () => {
    await assert.rejects(
      t.create(pods.get('runc')!, 'missing-image', 'true', { mounts: [vol('nori-test/never-pulled:1')] }),
      (e: any) => e.code === NOT_FOUND && /image volume "nori-test\/never-pulled:1" .* not found: the image must be pulled first/.test(e.details),
    );
    assertNothingStaged(t.nori.state);
  });

  it('RemoveImage of a mounted image is refused while the container exists; the container keeps reading it', async () => {
    const pod = pods.get('runc')!;
    const web = t.image('web');
    const id = await t.runLong(pod, 'reader', { mounts: [vol(web, 'www')] });
    await assert.rejects(
      t.nori.client.call('RemoveImage', { image: { image: web } }),
      (e: any) => e.code === FAILED_PRECONDITION && /in use by container [0-9a-f]{64} as an image volume$/.test(e.details),
    );
    assert.equal((await t.exec(id, ['cat', '/vol/index.html'])).stdout, INDEX_HTML);
    assert.ok((await t.nori.client.call('ImageStatus', { image: { image: web } })).image, 'the image is still listed');
    await t.nori.client.call('StopContainer', { container_id: id, timeout: 0 });
    await t.nori.client.call('RemoveContainer', { container_id: id });
    // Removed exited containers still mounting it (earlier tests) hold it too.
    for (const c of (await t.nori.client.call('ListContainers', {})).containers) {
      if (c.state === 'CONTAINER_EXITED') await t.nori.client.call('RemoveContainer', { container_id: c.id });
    }
    await t.nori.client.call('RemoveImage', { image: { image: web } });
    assert.equal((await t.nori.client.call('ImageStatus', { image: { image: web } })).image, null);
    await t.nori.client.call('PullImage', { image: { image: web } });
  });

  describe('kill -9 and restart', () => {
    let n: NoriProcess | undefined;
    let args: string[] = [];
    const c = () => n!.client;
    const podConfig = { metadata: { name: 'crashy', namespace: 'inside', uid: 'uid-crashy', attempt: 0 }, hostname: 'crashy', linux: {} };
    const ctrConfig = (name: string) => ({
      metadata: { name }, image: { image: t.image('busybox') }, command: ['sh', '-c', 'sleep 600'],
      mounts: [vol(t.image('web'), 'www')],
    });

    async function launch(env: Record<string, string> = {}, dir?: string): Promise<NoriProcess> {
      const d = await startNori({ dir, extraArgs: args, env });
      writeFileSync(join(d.cniConfDir, '10-inside.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'nori-iv-crash', plugins: [{ type: 'loopback' }] }));
      return d;
    }
    async function crashAndRestart(env: Record<string, string> = {}): Promise<void> {
      await n!.stop('SIGKILL');
      n!.client.close();
      n = await launch(env, n!.dir);
    }

    before(async () => {
      const i = t.nori.args.indexOf('--registries-conf');
      args = t.nori.args.slice(i).filter((_, k, a) => a[k - 1] !== '--cgroup-root-prefix' && a[k] !== '--cgroup-root-prefix');
      args.push('--cgroup-root-prefix', `${t.cgroupPrefix}-crash`);
      n = await launch({ NORI_FAULT_POINTS: 'create.after-prepared-mounts' });
      for (const img of [t.image('busybox'), t.image('web')]) await c().call('PullImage', { image: { image: img } });
    });
    after(async () => {
      if (!n) return;
      for (const p of (await c().call('ListPodSandbox', {}).catch(() => ({ items: [] }))).items) {
        await c().call('StopPodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
        await c().call('RemovePodSandbox', { pod_sandbox_id: p.id }).catch(() => undefined);
      }
      await n.cleanup();
    });

    it('a crash while the image volume is staged leaves nothing after the restart; RemoveImage then works', async () => {
      const { pod_sandbox_id: pod } = await c().call('RunPodSandbox', { config: podConfig });
      await assert.rejects(c().call('CreateContainer', { pod_sandbox_id: pod, sandbox_config: podConfig, config: ctrConfig('victim') }));
      await until('nori to die at the fault point', () => n!.proc.signalCode === 'SIGKILL');
      assert.ok(mountsUnder(join(n!.state, 'prepared-mounts')).length > 0, 'the crash left the staged overlay mounted');
      await crashAndRestart();
      assertNothingStaged(n!.state);
      assert.deepEqual((await c().call('ListContainers', {})).containers, []);
      // The reference the half-made container took is gone: the image can be removed.
      await c().call('RemoveImage', { image: { image: t.image('web') } });
      await c().call('PullImage', { image: { image: t.image('web') } });
      await c().call('RemovePodSandbox', { pod_sandbox_id: pod });
    });

    it('a running container keeps its volume across kill -9 + restart; RemovePodSandbox then frees the image', async () => {
      const { pod_sandbox_id: pod } = await c().call('RunPodSandbox', { config: podConfig });
      const { container_id: id } = await c().call('CreateContainer', { pod_sandbox_id: pod, sandbox_config: podConfig, config: ctrConfig('survivor') });
      await c().call('StartContainer', { container_id: id });
      await crashAndRestart();
      const ex = await c().call('ExecSync', { container_id: id, cmd: ['cat', '/vol/index.html'], timeout: 20 });
      assert.equal(Buffer.from(ex.stdout).toString(), INDEX_HTML);
      await assert.rejects(c().call('RemoveImage', { image: { image: t.image('web') } }), (e: any) => e.code === FAILED_PRECONDITION);
      await c().call('StopPodSandbox', { pod_sandbox_id: pod });
      await c().call('RemovePodSandbox', { pod_sandbox_id: pod });
      await c().call('RemoveImage', { image: { image: t.image('web') } });
      assertNothingStaged(n!.state);
      assert.deepEqual(mountsUnder(n!.state), [], 'no mount of the daemon is left');
    });
  });
});
