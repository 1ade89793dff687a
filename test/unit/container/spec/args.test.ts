import { strict as assert } from 'node:assert';
import { buildArgs, buildCwd } from '../../../../src/container/spec/args';
import { InvalidArgumentError } from '../../../../src/errors';
import type { OciImageConfig } from '../../../../src/image/api';

describe('container spec: args', () => {
  const img: OciImageConfig = { Entrypoint: ['/entry'], Cmd: ['cmd1', 'cmd2'] };
  const cases: { name: string; command: string[]; args: string[]; image: OciImageConfig; want: string[] }[] = [
    { name: 'image only', command: [], args: [], image: img, want: ['/entry', 'cmd1', 'cmd2'] },
    { name: 'args replace Cmd', command: [], args: ['a'], image: img, want: ['/entry', 'a'] },
    { name: 'command replaces entrypoint and drops Cmd', command: ['/bin/sh'], args: [], image: img, want: ['/bin/sh'] },
    { name: 'command and args', command: ['/bin/sh'], args: ['-c', 'x'], image: img, want: ['/bin/sh', '-c', 'x'] },
    { name: 'Cmd only image', command: [], args: [], image: { Cmd: ['sh'] }, want: ['sh'] },
    { name: 'null Entrypoint/Cmd with args', command: [], args: ['top'], image: { Entrypoint: null, Cmd: null }, want: ['top'] },
    { name: 'entrypoint [""] means none', command: [], args: [], image: { Entrypoint: [''], Cmd: ['x'] }, want: ['x'] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(buildArgs(c.command, c.args, c.image), c.want));
  }
  it('rejects an empty command', () => {
    assert.throws(() => buildArgs([], [], {}), (e: unknown) => e instanceof InvalidArgumentError && /no command specified/.test(e.message));
  });
  it('working dir: CRI, then image, then /', () => {
    assert.equal(buildCwd('/w', { WorkingDir: '/img' }), '/w');
    assert.equal(buildCwd('', { WorkingDir: '/img' }), '/img');
    assert.equal(buildCwd('', {}), '/');
  });
});
