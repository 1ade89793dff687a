import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// Every module the daemon loads delays its first answer after a restart (issue 19 part 5), so
// what only tools use stays out of its load: @grpc/grpc-js (nori serves with its own HTTP/2
// server; only `nori inspect` is a grpc-js client), the doctor, the inspect command.
const MAIN = join(__dirname, '..', '..', '..', 'src', 'main.js');

/** The modules loaded once main.js has run `nori --version` (which loads everything the daemon imports). */
function loadedBy(args: string[]): string[] {
  const code = [
    `process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(Object.keys(require.cache))));`,
    `process.argv = [process.argv[0], 'nori', ...${JSON.stringify(args)}];`,
    `require(${JSON.stringify(MAIN)});`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = r.stderr ?? '';
  const line = stderr.split('\n').find((l) => l.startsWith('LOADED '));
  assert.ok(line, `no module list in: ${stderr}`);
  return JSON.parse(line.slice('LOADED '.length)) as string[];
}

describe("the daemon's module load", () => {
  it('loads the daemon but not @grpc/grpc-js, the doctor or the inspect command', () => {
    const mods = loadedBy(['--version']);
    assert.ok(mods.some((m) => m.endsWith(join('src', 'daemon.js'))), 'daemon.js is part of the load');
    assert.deepEqual(mods.filter((m) => m.includes(`${join('node_modules', '@grpc')}`)), []);
    assert.deepEqual(mods.filter((m) => /[\\/]src[\\/](doctor[\\/]index|inspect[\\/]cli)\.js$/.test(m)), []);
  });
});
