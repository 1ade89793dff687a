// The README's configuration table names every flag nori accepts (src/config.ts FLAGS).

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLAGS } from '../../../src/config';

describe('README flag table', () => {
  it('has a row for every flag', () => {
    const readme = readFileSync(join(__dirname, '..', '..', '..', '..', 'README.md'), 'utf8');
    const rows = new Set([...readme.matchAll(/^\| `--([a-z0-9-]+)` \|/gm)].map((m) => m[1]));
    const missing = FLAGS.map((f) => f.flag).filter((f) => !rows.has(f));
    assert.deepEqual(missing, [], `README.md lacks rows for: ${missing.join(', ')}`);
  });
});
