// Loaded by mocha (--require) inside the test:vm guest only: multiplies every timeout the
// suites set (this.timeout(n), the config's default) by NORI_TEST_TIMEOUT_SCALE, because the
// guest runs under software emulation ~10-15x slower than a host. Nothing else changes.
'use strict';
const Runnable = require('mocha/lib/runnable');
const Suite = require('mocha/lib/suite');
const scale = Number(process.env.NORI_TEST_TIMEOUT_SCALE || '1');
if (scale > 1) {
  for (const C of [Runnable, Suite]) {
    const timeout = C.prototype.timeout;
    C.prototype.timeout = function (ms) {
      if (typeof ms === 'number' && ms > 0) return timeout.call(this, ms * scale);
      return timeout.apply(this, arguments);
    };
  }
}
