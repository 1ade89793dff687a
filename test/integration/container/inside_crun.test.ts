// The crun runtime handler: containers run through the same conmon path as with runc (on this
// hybrid-cgroup machine via the wrapper of src/runtime/crun_hybrid.ts), checked from inside; and
// a handler whose runtime refuses to run fails CreateContainer at once with the runtime's own
// words, leaving nothing behind.

import { strict as assert } from 'node:assert';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { needsHybridWrapper, readCgroupLayout } from '../../../src/runtime/crun_hybrid';
import { startInside, type Inside } from './inside_harness';
import { until } from '../../helpers/until';

const CRUN = '/usr/bin/crun';

/** Processes whose command line mentions `text` (our own state dir: never anyone else's). */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

// Fails every call; `create` first makes the container's memory cgroup, as a runtime failing
// half-way does (crun 1.8 did, on a device rule it could not write).
const BROKEN_RUNTIME = `#!/bin/sh
prev=; b=
for a in "$@"; do [ "$prev" = --bundle ] && b=$a; prev=$a; done
if [ -n "$b" ]; then
  p=$(grep -o '"cgroupsPath":"[^"]*"' "$b/config.json" | cut -d'"' -f4)
  [ -n "$p" ] && mkdir -p "/sys/fs/cgroup/memory$p"
fi
echo "cgroups in hybrid mode not supported, drop all controllers from cgroupv2" >&2
exit 1
`;

describe('containers from inside: the crun handler', function () {
  this.timeout(120_000);
  let t: Inside;
  let tmp = '';

  before(async function () {
    if (process.getuid?.() !== 0 || !existsSync(CRUN)) this.skip();
    this.timeout(180_000);
    // A handler whose runtime fails every call the way crun 1.8 does on a hybrid host unwrapped.
    tmp = mkdtempSync('/tmp/nori-inside-crun-');
    const broken = join(tmp, 'broken-runtime');
    writeFileSync(broken, BROKEN_RUNTIME);
    chmodSync(broken, 0o755);
    const conf = join(tmp, 'nori.toml');
    writeFileSync(conf, `[runtimes.broken]\npath = "${broken}"\n`);
    t = await startInside(['busybox'], ['--config', conf]);
  });
  after(async () => {
    await t?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('runs, execs into and stops a container with crun', async function () {
    const cpod = await t.pod({ handler: 'crun' });
    const r = await t.run(cpod, 'crun-once', 'id -u; grep -E ":memory:" /proc/self/cgroup; echo bye; exit 7', {
      linux: { resources: { memory_limit_in_bytes: 64 << 20 } },
    });
    assert.equal(r.exitCode, 7, r.out);
    const [uid, memLine, bye] = r.out.split('\n');
    assert.equal(uid, '0');
    assert.match(memLine!, /:memory:\/nori-inside-[0-9a-f]+\/pod[0-9a-f]+\/nori-[0-9a-f]{64}$/);
    assert.equal(bye, 'bye');

    const long = await t.runLong(cpod, 'crun-long', {}, "trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done");
    assert.ok(existsSync(join(t.nori.state, 'crun', long)), 'crun keeps its state under the handler root');
    const ex = await t.exec(long, ['sh', '-c', 'echo "exec $(id -u)"; exit 4']);
    assert.deepEqual(ex, { stdout: 'exec 0\n', stderr: '', exitCode: 4 });
    const st = await t.nori.client.call('ContainerStatus', { container_id: long, verbose: true });
    assert.equal(JSON.parse(st.info.info).runtimeType, 'crun');
    await t.nori.client.call('StopContainer', { container_id: long, timeout: 10 });
    const after = await t.nori.client.call('ContainerStatus', { container_id: long });
    assert.equal(after.status.exit_code, 0);
    assert.match(t.logText(cpod, 'crun-long'), /got TERM/);
    await t.nori.client.call('RemoveContainer', { container_id: long });
    assert.ok(!existsSync(join(t.nori.state, 'crun', long)));
  });

  it('on this host crun needs the hybrid wrapper exactly when cgroup2 holds controllers', function () {
    const layout = readCgroupLayout();
    const wrapper = join(t.nori.state, 'runtime-wrappers', 'crun-hybrid-cgroups');
    assert.equal(existsSync(wrapper), needsHybridWrapper(CRUN, layout));
    if (!needsHybridWrapper(CRUN, layout)) this.skip(); // nothing more to see on a v1 or v2 host
    // The host's own mount is untouched by the wrapper's private namespace.
    assert.match(readFileSync('/proc/self/mountinfo', 'utf8'), / \/sys\/fs\/cgroup\/unified .* - cgroup2 /);
  });

  it('a runtime that refuses to run fails CreateContainer at once, leaving nothing behind', async () => {
    const pod = await t.pod({ handler: 'broken' });
    const id = pod.id;
    const before = readdirSync(join(t.nori.state, 'containers'));
    const t0 = Date.now();
    await assert.rejects(
      t.create(pod, 'never', 'true'),
      (e: Error) => /hybrid mode not supported/.test(e.message),
    );
    assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
    assert.deepEqual(readdirSync(join(t.nori.state, 'containers')), before);
    // The cgroup the runtime made before failing is gone too.
    const podCgroup = join('/sys/fs/cgroup/memory', t.cgroupPrefix, `pod${id}`);
    assert.ok(existsSync(podCgroup), podCgroup);
    assert.deepEqual(readdirSync(podCgroup, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name), []);
    const listed = await t.nori.client.call('ListContainers', { filter: { pod_sandbox_id: id } });
    assert.deepEqual(listed.containers, []);
    // No conmon (nor runtime) left for it: nothing else runs under this daemon's state dir.
    await until('no monitor left', () => processesMentioning(join(t.nori.state, 'containers')).length === 0, 5000);
    assert.deepEqual(processesMentioning('broken-runtime'), []);
    // The name is free again.
    await assert.rejects(t.create(pod, 'never', 'true'), /hybrid mode not supported/);
  });
});
