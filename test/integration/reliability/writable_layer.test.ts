// A hostile tenant's writable layer: 100,000 files, a FIFO, a symlink to /dev/zero and a
// directory chain nested past PATH_MAX. While nori measures it, every RPC keeps answering (no
// stats call and no ImageFsInfo walks the layer, none fails), the stats eventually count the
// files, and RemoveContainer removes the whole layer, deep chain included.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { canRun, privateNori, type PrivateNori } from './private_nori';

const FILES = 100_000;
const DEPTH = 300; // × 31 bytes a level: ~9.3 KB of path, past PATH_MAX (4096)
const SEG = 'd'.repeat(30);

describe('a writable layer built to stall the daemon (real daemon)', function () {
  this.timeout(600_000);
  let env: PrivateNori;
  let pod = '';
  let ctr = '';
  let upper = '';
  const c = () => env.nori.client;

  before(async function () {
    if (!canRun()) this.skip();
    env = await privateNori();
    const podConfig = env.podConfig('layer', { linux: { security_context: { namespace_options: { network: 'NODE' } } } });
    pod = (await c().call('RunPodSandbox', { config: podConfig })).pod_sandbox_id;
    ctr = (
      await c().call('CreateContainer', {
        pod_sandbox_id: pod,
        config: { metadata: { name: 'tenant' }, image: { image: env.busybox }, command: ['sleep', '3600'], log_path: 'tenant.log' },
        sandbox_config: podConfig,
      })
    ).container_id;
    await c().call('StartContainer', { container_id: ctr });
    upper = join(env.nori.root, 'overlay2', 'containers', ctr, 'upper');
    assert.ok(fs.existsSync(upper), upper);
    // what the tenant writes, put straight into its upper dir (the same inodes its writes make)
    const many = join(upper, 'many');
    fs.mkdirSync(many);
    for (let i = 0; i < FILES; i++) fs.closeSync(fs.openSync(join(many, String(i)), 'w'));
    execFileSync('mkfifo', [join(upper, 'fifo')]);
    fs.symlinkSync('/dev/zero', join(upper, 'zero'));
    execFileSync('bash', ['-c', `cd "$1" && for i in $(seq ${DEPTH}); do mkdir ${SEG} && cd ${SEG} || exit 1; done; echo deep > file`, '_', upper]);
  });
  after(async () => {
    await env?.cleanup();
  });

  it('answers every call meanwhile, and the stats come to count the files', async () => {
    const failures: string[] = [];
    const call = async (rpc: string, req: object) => {
      try {
        return await c().call(rpc, req, { deadlineMs: 30_000 });
      } catch (e) {
        failures.push(`${rpc}: ${(e as Error).message}`);
        return undefined;
      }
    };
    const want = FILES + DEPTH + 4; // many/, its files, fifo, zero, the chain and its file
    let seen = 0;
    let rounds = 0;
    for (; seen < want; rounds++) {
      const [stats, list] = await Promise.all([
        call('ContainerStats', { container_id: ctr }),
        call('ListContainerStats', {}),
        call('ImageFsInfo', {}),
        call('Version', {}),
        call('ContainerStatus', { container_id: ctr }),
        call('ListContainers', {}),
        call('ListPodSandboxStats', {}),
      ]);
      assert.deepEqual(failures, [], `round ${rounds}`);
      const layer = stats?.stats?.writable_layer;
      if (layer) {
        seen = Number(layer.inodes_used.value);
        // the sample says when it was taken; never in the future
        assert.ok(BigInt(layer.timestamp) <= BigInt(Date.now()) * 1_000_000n);
        assert.ok(list!.stats.find((s: any) => s.attributes.id === ctr)?.writable_layer, 'ListContainerStats has the layer');
      }
      if (seen < want) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(seen >= want, `${seen} inodes counted, ${want} made`);
    const info = await call('ImageFsInfo', {});
    assert.ok(Number(info!.container_filesystems[0].inodes_used.value) >= want);
  });

  it('RemoveContainer removes the layer, the chain past PATH_MAX included', async () => {
    await c().call('StopContainer', { container_id: ctr, timeout: 0 });
    await c().call('RemoveContainer', { container_id: ctr });
    // The container is gone from every list when the call returns; its files go right after,
    // off the call (100,000 of them take a while on a busy node).
    assert.equal((await c().call('ListContainers', {})).containers.length, 0);
    const layer = join(env.nori.root, 'overlay2', 'containers', ctr);
    for (const until = Date.now() + 120_000; fs.existsSync(layer) && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
    assert.equal(fs.existsSync(layer), false, `${layer} removed`);
  });
});
