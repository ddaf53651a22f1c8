// The reactor's fault sites (native/common/fault_schedule.h) exist in the fault-injection build
// only (build/faults, `pnpm run build:faults`): the release addon has no faults() export. The
// seeded runs and the fault cases on epoll and poll(2) are scripts/test-faults.mjs (.ci/run).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const build = join(fileURLToPath(new URL('..', import.meta.url)), 'build');
const release = join(build, 'Release', 'proactor_epoll.node');
const faulty = join(build, 'faults', 'Release', 'proactor_epoll.node');
const load = createRequire(import.meta.url);

describe.skipIf(!existsSync(release))('the release reactor addon', () => {
  it('has no fault injection compiled in (no faults() export)', () => {
    expect(Object.keys(load(release) as object)).not.toContain('faults');
  });
});

describe.skipIf(!existsSync(faulty))(
  `the reactor's fault-injection build${existsSync(faulty) ? '' : ' (skipped: not built; pnpm run build:faults)'}`,
  () => {
    it("reports the reactor's sites beside the shared ones, each with its rate", () => {
      type Report = { sites: Record<string, { rate: number; injected: number }> };
      const faults = (load(faulty) as { faults: (spec?: string) => Report }).faults;
      const report = faults('seed:5,spurious_readiness=0.5,connect_eintr=1');
      for (const site of [
        'poller_wait_eintr',
        'poller_wakeup_spurious',
        'short_file_transfer',
        'send_stuck',
      ]) {
        expect(report.sites[site]?.rate, site).toBe(0);
      }
      expect(report.sites.spurious_readiness.rate).toBe(0.5);
      expect(report.sites.connect_eintr.rate).toBe(1);
      faults('');
    });
  },
);
