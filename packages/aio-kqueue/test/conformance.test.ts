import { conformance } from '@proactor/aio-conformance/vitest';
import { describe, it } from 'vitest';

// On Linux this is the libkqueue variant, whose suite scripts/test.mjs runs through the
// conformance CLI (with the differential runner): run once, not twice, in .ci/run's budget.
if (process.platform === 'linux') {
  describe('conformance', () => {
    it.skip('every case [skipped: on Linux scripts/test.mjs runs the suite on the libkqueue variant through the CLI]', () => {});
  });
} else {
  // Resolved from this package, as a user's project would resolve it.
  await conformance('@proactor/aio-kqueue', new URL('..', import.meta.url).pathname);
}
