// The reactor's fault sites (native/common/fault_schedule.h) exist in the fault-injection build
// only (build/faults, `pnpm run build:faults`): the release addon has no faults() export. The
// seeded runs and the fault cases on epoll and poll(2) are scripts/test-faults.mjs (.ci/run);
// here, what engineInfo() says when Linux AIO's system calls refuse (in child processes that load
// the fault build with a schedule).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { directIoUnavailable } from '@proactor/aio-conformance';
import { afterEach, describe, expect, it } from 'vitest';
import { linuxAio } from '../src/index.js';

const build = join(fileURLToPath(new URL('..', import.meta.url)), 'build');
const release = join(build, 'Release', 'proactor_epoll.node');
const faulty = join(build, 'faults', 'Release', 'proactor_epoll.node');
const load = createRequire(import.meta.url);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

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
        'aio_submit_partial',
        'aio_getevents_short',
      ]) {
        expect(report.sites[site]?.rate, site).toBe(0);
      }
      expect(report.sites.spurious_readiness.rate).toBe(0.5);
      expect(report.sites.connect_eintr.rate).toBe(1);
      faults('');
    });
  },
);

const BLOCK = 4096;
const noAio = !existsSync(faulty)
  ? 'not built; pnpm run build:faults'
  : (directIoUnavailable() ?? (linuxAio.enabled ? undefined : linuxAio.reason));

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs, in a child loading the fault build under the schedule `faults`, 32 direct reads of one
 * block each (in flight at once) of a file of known bytes through the default backend; returns
 * whether each read got its block, and engineInfo() after them.
 */
function directReadsUnder(faults: string): { allRight: boolean; info: Record<string, unknown> } {
  const dir = mkdtempSync(join(tmpdir(), 'proactor-epoll-faults-'));
  dirs.push(dir);
  const path = join(dir, 'blocks.bin');
  const data = Buffer.alloc(32 * BLOCK);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13 + (i >> 12)) & 0xff;
  writeFileSync(path, data);
  const script = `
import { Queue } from '@proactor/aio-core';
import backend, { engineInfo } from '@proactor/aio-epoll';
import { constants, readFileSync } from 'node:fs';
let engine;
const q = new Queue({ ...backend, attach(ring) { engine = backend.attach(ring); return engine; } }, { entries: 32 });
const fd = await q.open(${JSON.stringify(path)}, constants.O_RDONLY | constants.O_DIRECT);
const memory = Buffer.from(new WebAssembly.Memory({ initial: 2 }).buffer, 0, 32 * 4096);
const counts = await Promise.all(
  Array.from({ length: 32 }, (_, i) => q.read(fd, memory.subarray(i * 4096, (i + 1) * 4096), 0, 4096, (31 - i) * 4096)),
);
const file = readFileSync(${JSON.stringify(path)});
const allRight = counts.every((n, i) => n === 4096 && memory.subarray(i * 4096, (i + 1) * 4096).equals(file.subarray((31 - i) * 4096, (32 - i) * 4096)));
await q.close(fd);
const info = engineInfo(engine);
await q.destroy();
console.log(JSON.stringify({ allRight, info }));
`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: packageDir,
    encoding: 'utf8',
    env: { ...process.env, PROACTOR_EPOLL_ADDON: faulty, PROACTOR_FAULTS: faults },
    timeout: 30_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim());
}

describe.skipIf(noAio !== undefined)(
  `Linux AIO refusing, in the fault-injection build${noAio ? ` [skipped: ${noAio}]` : ''}`,
  () => {
    it('io_setup answering EAGAIN (fs.aio-max-nr reached): the reads run on the pool, and engineInfo says why', () => {
      const { allRight, info } = directReadsUnder('aio_setup_eagain=1');
      expect(allRight).toBe(true);
      expect(info).toMatchObject({ linuxAio: 'off', aioSubmitted: 0, aioEntries: 0 });
      expect(info.linuxAioReason).toMatch(/^io_setup\(32\) failed with EAGAIN: .*fs\.aio-max-nr/);
    });

    it('io_submit refusing every iocb (EAGAIN): each read runs on the pool, counted as refused', () => {
      const { allRight, info } = directReadsUnder('aio_submit_eagain=1');
      expect(allRight).toBe(true);
      // Linux AIO stays on: a refusal is for that batch, not for the queue.
      expect(info).toMatchObject({
        linuxAio: 'active',
        aioSubmitted: 0,
        aioRefused: 32,
        aioLastRefusal: 'EAGAIN',
        aioInFlight: 0,
      });
    });

    it('io_submit taking half of each batch and io_getevents one event at a time: every read through Linux AIO, reaped once', () => {
      const { allRight, info } = directReadsUnder('aio_submit_partial=1,aio_getevents_short=1');
      expect(allRight).toBe(true);
      expect(info).toMatchObject({
        linuxAio: 'active',
        aioSubmitted: 32,
        aioCompleted: 32,
        aioRefused: 0,
        aioInFlight: 0,
      });
      // 32 in one batch: 16, 8, 4, 2, 1 and the last one taken by six calls.
      expect(info.aioSubmitCalls as number).toBeGreaterThanOrEqual(6);
      expect(info.aioReapCalls as number).toBeGreaterThanOrEqual(32);
    });
  },
);
