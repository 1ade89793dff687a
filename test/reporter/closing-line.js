// Mocha's spec output plus the closing line CI reads: "N passed, N failed, N skipped".
'use strict';
const Mocha = require('mocha');
const { EVENT_RUN_END } = Mocha.Runner.constants;

class ClosingLine extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      const line = `${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} skipped`;
      const out = process.env.NORI_TEST_COUNTS;
      if (out) require('node:fs').writeFileSync(out, JSON.stringify({ passed: s.passes || 0, failed: s.failures || 0, skipped: s.pending || 0 }));
      // After Spec's epilogue, so it is the last line.
      process.nextTick(() => process.stdout.write(`\n${line}\n`));
    });
  }
}
module.exports = ClosingLine;
