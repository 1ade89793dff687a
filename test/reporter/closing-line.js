// Mocha's spec output plus the closing line CI reads: "N passed, N failed, N skipped".
// NORI_TEST_SKIPPED_OUTSIDE: tests hack/test.sh left out of the run (integration tests when not
// root), counted as skipped.
'use strict';
const Mocha = require('mocha');
const { EVENT_RUN_END } = Mocha.Runner.constants;

class ClosingLine extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      const skipped = (s.pending || 0) + (Number(process.env.NORI_TEST_SKIPPED_OUTSIDE) || 0);
      const line = `${s.passes || 0} passed, ${s.failures || 0} failed, ${skipped} skipped`;
      const out = process.env.NORI_TEST_COUNTS;
      if (out) require('node:fs').writeFileSync(out, JSON.stringify({ passed: s.passes || 0, failed: s.failures || 0, skipped }));
      // After Spec's epilogue, so it is the last line.
      process.nextTick(() => process.stdout.write(`\n${line}\n`));
    });
  }
}
module.exports = ClosingLine;
