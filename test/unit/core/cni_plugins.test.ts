// The CNI-plugin gate of the integration suites: skip off CI, fail in CI.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cniPluginsPresent } from '../../helpers/cni_plugins';

describe('CNI plugin gate for the integration suites', () => {
  let dir: string;
  const ci = process.env.CI;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nori-cni-gate-'));
    writeFileSync(join(dir, 'bridge'), '');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
  });

  it('passes when every plugin is there', () => {
    process.env.CI = 'true';
    assert.equal(cniPluginsPresent(['bridge'], dir), true);
  });

  it('a missing plugin skips off CI and fails in CI', () => {
    delete process.env.CI;
    assert.equal(cniPluginsPresent(['bridge', 'host-local'], dir), false);
    process.env.CI = 'true';
    assert.throws(() => cniPluginsPresent(['bridge', 'host-local'], dir), /CNI plugins missing .*host-local/);
  });
});
