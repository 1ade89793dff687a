import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFeatures, recursiveReadOnlyByHandler, runtimeFeatures } from '../../../src/runtime/features';

describe('runtime features (`<runtime> features`)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nori-features-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A fake runtime binary printing `out` for `features` (and counting its calls). */
  function runtime(name: string, script: string): string {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\necho x >> ${p}.calls\n${script}\n`);
    chmodSync(p, 0o755);
    return p;
  }

  it('parses mountOptions from the runtime-spec features document', () => {
    assert.deepEqual([...parseFeatures('{"ociVersionMin":"1.0.0","mountOptions":["rbind","rro",7]}').mountOptions], ['rbind', 'rro']);
    assert.equal(parseFeatures('unknown command features').mountOptions.size, 0);
  });

  it('asks each binary once; a runtime without the subcommand has no features', async () => {
    const runc = runtime('runc-like', `[ "$1" = features ] && echo '{"mountOptions":["rro","rbind"]}'`);
    const crun = runtime('crun-like', `echo "unknown command $1" >&2; exit 1`);
    assert.ok((await runtimeFeatures(runc)).mountOptions.has('rro'));
    assert.ok((await runtimeFeatures(runc)).mountOptions.has('rro'));
    assert.equal((await runtimeFeatures(crun)).mountOptions.size, 0);
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(`${runc}.calls`, 'utf8'), 'x\n');
  });

  it('recursive read-only mounts per handler: the rro option, or the kernel where nori stages them', async () => {
    const runc = runtime('runc2', `echo '{"mountOptions":["rro"]}'`);
    const crun = runtime('crun2', 'exit 1');
    const c = { runtimes: { runc: { path: runc, options: [] }, crun: { path: crun, options: [] } }, defaultRuntime: 'crun' };
    assert.deepEqual(await recursiveReadOnlyByHandler(c, () => false), { runc: true, crun: false, '': false });
    assert.deepEqual(await recursiveReadOnlyByHandler(c, () => true), { runc: true, crun: true, '': true });
  });
});
