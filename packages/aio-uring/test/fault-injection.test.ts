// Fault injection (native/common/fault_schedule.h) is compiled into the test build only
// (build/faults, -DPROACTOR_FAULTS=ON): the release build must not have it, and the test build's
// faults() must refuse a schedule it cannot honour rather than inject nothing. The seeded runs
// and the fault cases themselves are scripts/test-faults.mjs (run by .ci/run).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const build = join(fileURLToPath(new URL('..', import.meta.url)), 'build');
const release = join(build, 'Release', 'proactor_uring.node');
const faulty = join(build, 'faults', 'Release', 'proactor_uring.node');
const load = createRequire(import.meta.url);

describe.skipIf(!existsSync(release))('the release addon', () => {
  it('has no fault injection compiled in (no faults() export)', () => {
    expect(Object.keys(load(release) as object)).not.toContain('faults');
  });
});

describe.skipIf(!existsSync(faulty))(
  `the fault-injection build${existsSync(faulty) ? '' : ' (skipped: not built; pnpm run build:faults)'}`,
  () => {
    type Report = { seed: number; sites: Record<string, { rate: number; calls: number; injected: number }> };
    const faults = () => (load(faulty) as { faults: (spec?: string) => Report }).faults;

    it('takes seed:N, site=rate and all=rate, and reports every site with its rate', () => {
      const report = faults()('seed:77,all=0.5,uring_enter_eintr=0');
      expect(report.seed).toBe(77);
      expect(report.sites.uring_enter_eintr.rate).toBe(0);
      expect(report.sites.short_file_transfer.rate).toBe(0.5);
      expect(report.sites.pool_refuses.injected).toBe(0);
      faults()('');
    });

    it.each([
      ['no_such_site=0.1', /no fault site 'no_such_site'/],
      ['short_file_transfer=2', /must be a number from 0 to 1/],
      ['seed:x', /seed 'x' is not a number/],
      ['short_file_transfer', /neither seed:N nor site=rate/],
    ])('refuses %s with a TypeError that says why', (spec, why) => {
      expect(() => faults()(spec)).toThrow(why);
      expect(() => faults()(spec)).toThrow(TypeError);
    });
  },
);
