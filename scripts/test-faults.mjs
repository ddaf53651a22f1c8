// node scripts/test-faults.mjs [--backend uring|epoll|poll|kqueue|iocp] [--seeds N] [--hands H]
//                              [--first-seed S] [--scripts N] [--steps N] [--addon PATH]
//
// The fault-injection suite (issue 12) on a native addon built with -DPROACTOR_FAULTS=ON
// (`pnpm --filter @proactor/aio-uring run build:faults`, likewise aio-epoll and aio-kqueue;
// scripts/test-faults.sh builds them and runs this once per backend): io_uring (the default),
// the reactor over epoll, over poll(2) (aio-epoll's second poller) and over kqueue (aio-kqueue;
// libkqueue on Linux), and IOCP (aio-iocp, under Wine with node.exe: scripts/windows-build.sh
// --faults builds it, scripts/windows-test.sh --faults runs this). Faults come from a seeded schedule (native/common/fault_schedule.h); each
// run prints its seed, so a failure is re-run with `--backend B --first-seed S --seeds 1`.
//
// Per seed, one child process with PROACTOR_FAULTS=seed:S,<the backend's rates below>:
// - its share of the conformance suite (the cases are dealt round-robin into H hands, H = the
//   number of seeds unless --hands says more, the deal rotated by the first seed: with H = N each
//   case meets faults once per run and a different seed in the next run; with H > N a run covers
//   N/H of the suite, a different part in the next run), every case expected to pass exactly as
//   without faults;
// - differential scripts (files and sockets) against aio-node, every result compared;
// - every operation started through the queues counted against every final result delivered
//   (countOperations): they must be equal;
// - what the schedule injected, per site.
// On the backends with Linux AIO (epoll and poll(2): aio-epoll's direct I/O, where the file system
// of the temporary directory takes O_DIRECT and the system calls are allowed), each seed also runs
// every direct I/O case (not dealt: they are few and short) and direct differential scripts, with
// the Linux AIO sites in its schedule; on io_uring too, without those sites.
// Then, in a fresh child, the fault cases (aio-conformance's faultCases): the faults that must
// surface as a documented error (accept's EMFILE and ENFILE, a pool that cannot start a thread)
// or a documented short result, each set by the case and expected by it.
// Fails on any failed case, any difference, started != finished, or a scheduled site that
// injected nothing over all the seeds although it was asked often enough (a schedule that tests
// nothing).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'uring' },
    seeds: { type: 'string', default: '4' },
    hands: { type: 'string' },
    'first-seed': { type: 'string' },
    scripts: { type: 'string', default: '3' },
    steps: { type: 'string', default: '200' },
    addon: { type: 'string' },
    role: { type: 'string' },
    share: { type: 'string' },
    seed: { type: 'string' },
    direct: { type: 'boolean', default: false },
  },
});

// The faults that must never be seen, per mechanism: the results with them equal the results
// without them. (The accept faults and stuck sends change what a peer sees, short socket
// transfers change the counts a send or recv reports, and a refused pool thread can surface as
// EAGAIN: those are the fault cases' own, each with the result it must give.) Short file
// transfers cut reads and writes in half and readv/writev to half their vectors: the engine core
// continues them (io_uring's in the kernel ring, the reactor's on the pool).
const INVISIBLE = {
  uring: {
    uring_enter_eintr: 0.02,
    uring_enter_eagain: 0.02,
    uring_enter_ebusy: 0.02,
    uring_enter_partial: 0.25,
    uring_cq_overflow: 0.25,
    short_file_transfer: 0.25,
  },
  // The poller's wait interrupted, waiters woken with nothing to report (waitSync, the relay
  // threads of poll(2) and libkqueue), readiness reports that were false alarms, connects
  // interrupted once under way.
  reactor: {
    poller_wait_eintr: 0.05,
    poller_wakeup_spurious: 0.2,
    spurious_readiness: 0.2,
    connect_eintr: 0.25,
    short_file_transfer: 0.25,
  },
  // aio-epoll's Linux AIO (direct I/O): io_setup refused (that queue's direct I/O on the pool),
  // io_submit refusing all (the refused iocb to the pool) or taking part of a batch (the rest
  // submitted again), io_getevents interrupted (the rest reaped at the next report) or answering
  // one event where more are ready, the completion eventfd's read finding nothing, reads and
  // writes completing short (continued, 4096-aligned).
  // (A seed makes about 16 io_setup calls, 20 io_submit calls of more than one iocb and 150
  // io_getevents calls, fewer when io_setup refusals sent queues to the pool: io_setup's rate is
  // kept low so that most queues run Linux AIO.)
  linuxAio: {
    aio_setup_eagain: 0.15,
    aio_submit_eagain: 0.1,
    aio_submit_partial: 0.5,
    aio_getevents_eintr: 0.1,
    aio_getevents_short: 0.3,
    aio_eventfd_empty: 0.2,
    aio_short_transfer: 0.25,
  },
  // The completion thread's GetQueuedCompletionStatusEx failing with WAIT_TIMEOUT or returning
  // no packet, the wakeup's threadsafe-function call refused (napi_queue_full: the blocking call
  // follows), and short reads and writes of files (at a position through the port, the rest on
  // the pool). (waitSync's wait woken for nothing, poller_wakeup_spurious: the whole suite waits
  // there about 6 times, too few to be met at random in a quarter of it; a fault case does it.)
  iocp: {
    port_wait_timeout: 0.05,
    port_wait_empty: 0.2,
    wakeup_queue_full: 0.2,
    short_file_transfer: 0.25,
  },
};

// The backends: the addon built with faults (its default path and the variable its package reads
// to load another build), the module whose default export is the backend, the schedule, and the
// backend of the pool fault case (every file operation on the blocking pool).
const reactorPool = async (mod) => mod.default;
const BACKENDS = {
  uring: {
    label: 'io_uring',
    addon: 'packages/aio-uring/build/faults/Release/proactor_uring.node',
    addonVariable: 'PROACTOR_URING_ADDON',
    module: 'packages/aio-uring/dist/index.js',
    invisible: INVISIBLE.uring,
    // Direct I/O cases and scripts too (O_DIRECT through the ring; short_file_transfer cuts them
    // at aligned lengths), without Linux AIO sites.
    direct: true,
    async poolBackend(mod) {
      const { Opcode } = await import(pathToFileURL(join(root, 'packages/aio-core/dist/index.js')).href);
      return mod.createBackend({ blockingOps: [Opcode.FSYNC] });
    },
  },
  epoll: {
    label: 'epoll',
    addon: 'packages/aio-epoll/build/faults/Release/proactor_epoll.node',
    addonVariable: 'PROACTOR_EPOLL_ADDON',
    module: 'packages/aio-epoll/dist/index.js',
    invisible: INVISIBLE.reactor,
    linuxAio: true,
    poolBackend: reactorPool,
  },
  poll: {
    label: 'poll(2)',
    addon: 'packages/aio-epoll/build/faults/Release/proactor_epoll.node',
    addonVariable: 'PROACTOR_EPOLL_ADDON',
    module: 'packages/aio-epoll/test/fixtures/poll-backend.mjs',
    invisible: INVISIBLE.reactor,
    linuxAio: true,
    poolBackend: reactorPool,
  },
  kqueue: {
    label: 'kqueue',
    addon: 'packages/aio-kqueue/build/faults/Release/proactor_kqueue.node',
    addonVariable: 'PROACTOR_KQUEUE_ADDON',
    module: 'packages/aio-kqueue/dist/index.js',
    invisible: INVISIBLE.reactor,
    poolBackend: reactorPool,
  },
  // (Every file operation but reads and writes at a position runs on IOCP's pool.)
  iocp: {
    label: 'IOCP',
    addon: 'packages/aio-iocp/build/faults/Release/aio_iocp.node',
    addonVariable: 'PROACTOR_IOCP_ADDON',
    module: 'packages/aio-iocp/dist/index.js',
    invisible: INVISIBLE.iocp,
    poolBackend: reactorPool,
  },
};
const backend = BACKENDS[values.backend];
if (backend === undefined) {
  console.error(
    `test-faults: --backend must be one of ${Object.keys(BACKENDS).join(', ')}, not '${values.backend}'`,
  );
  process.exit(2);
}
// (The parent's; its children load the one it passes them in backend.addonVariable.)
const addon = values.addon !== undefined ? resolve(values.addon) : join(root, backend.addon);
// Cases left out of the seeded runs, with why: they run without faults in `pnpm test` and
// under the sanitizers.
const LEFT_OUT = [
  ['workers: workers with files, sockets and timers in flight', 'about 75 s by itself'],
  ['workers: workers terminated while they submit', 'about 30 s by itself'],
];

const conformanceUrl = pathToFileURL(join(root, 'packages/aio-conformance/dist/index.js')).href;
const backendUrl = pathToFileURL(join(root, backend.module)).href;
// The cases every seed runs whole on a backend with Linux AIO (the rest of the suite is dealt).
const DIRECT_CASES = 'direct I/O:';

if (values.role === 'seeded') process.exitCode = await seeded();
else if (values.role === 'cases') process.exitCode = await explicitCases();
else process.exitCode = await parent();

/** Runs this script as a child with `args`; resolves with its exit code and its report line. */
function child(args, env) {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
    });
    proc.on('close', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('REPORT '));
      const shown = out
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('REPORT '))
        .join('\n');
      if (shown !== '') process.stdout.write(`${shown}\n`);
      resolve({ code: code ?? 1, signal, report: line ? JSON.parse(line.slice(7)) : undefined });
    });
  });
}

function injectedText(sites) {
  return Object.entries(sites)
    .filter(([, s]) => s.rate > 0)
    .map(([name, s]) => `${name} ${s.injected}/${s.calls}`)
    .join(', ');
}

async function parent() {
  if (!existsSync(addon)) {
    console.error(
      `test-faults: no fault-injection build at ${addon} (its package's \`pnpm run build:faults\`)`,
    );
    return 2;
  }
  const seeds = Number(values.seeds);
  const hands = Math.max(seeds, Number(values.hands ?? seeds));
  const first =
    values['first-seed'] === undefined ? (Date.now() % 100_000) + 1 : Number(values['first-seed']);
  const direct = await directIoHere();
  const invisible = direct.aio ? { ...backend.invisible, ...INVISIBLE.linuxAio } : backend.invisible;
  const schedule = Object.entries(invisible)
    .map(([site, rate]) => `${site}=${rate}`)
    .join(',');
  console.log(`fault injection: ${backend.label}, addon ${addon}`);
  if (direct.note !== undefined) console.log(`  (${direct.note})`);
  console.log(
    `schedule: ${schedule}; seeds ${first}..${first + seeds - 1}` +
      (hands > seeds ? `, each with 1/${hands} of the suite (${seeds}/${hands} of it in this run)` : ''),
  );
  for (const [name, why] of LEFT_OUT) console.log(`  (left out of the seeded runs: '${name}...': ${why})`);
  const started = performance.now();
  let failed = false;
  const totals = Object.fromEntries(Object.keys(invisible).map((site) => [site, { injected: 0, calls: 0 }]));
  const faultEnv = (spec) => ({ [backend.addonVariable]: addon, PROACTOR_FAULTS: spec });
  for (let k = 0; k < seeds; k++) {
    const seed = first + k;
    const run = await child(
      [
        '--backend',
        values.backend,
        '--role',
        'seeded',
        '--seed',
        String(seed),
        '--share',
        `${(k + first) % hands}/${hands}`,
        ...(direct.direct ? ['--direct'] : []),
      ],
      faultEnv(`seed:${seed},${schedule}`),
    );
    const r = run.report;
    if (r === undefined) {
      console.log(
        `seed ${seed}: the run ended without a report (exit ${run.code}${run.signal ? `, ${run.signal}` : ''})`,
      );
      failed = true;
      continue;
    }
    for (const [site, s] of Object.entries(r.faults.sites)) {
      if (!(site in totals)) continue;
      totals[site].injected += s.injected;
      totals[site].calls += s.calls;
    }
    const balanced = r.counts.started === r.counts.finished;
    console.log(
      `${backend.label} seed ${seed}: ${r.cases.passed} cases passed, ${r.cases.failed} failed, ${r.cases.skipped} skipped; ` +
        `differential ${r.differential.passed} scripts equal, ${r.differential.failed} different; ` +
        `operations started ${r.counts.started}, finished ${r.counts.finished}${balanced ? '' : ' (NOT EQUAL)'}; ` +
        `faults injected/calls: ${injectedText(r.faults.sites)} (${(r.seconds).toFixed(1)} s)`,
    );
    if (run.code !== 0 || r.cases.failed > 0 || r.differential.failed > 0 || !balanced) failed = true;
  }
  // A site that injected nothing tests nothing: a failure when it was never asked, or asked so
  // often that no hit at its rate is less likely than 1 in 10,000 (a schedule that does not
  // work); otherwise (a site asked a few times a run, as io_setup is) said, and left to the next run.
  const silent = Object.entries(totals).filter(
    ([site, t]) => t.injected === 0 && (t.calls === 0 || (1 - invisible[site]) ** t.calls < 1e-4),
  );
  for (const [site, t] of Object.entries(totals)) {
    if (t.injected === 0 && !silent.some(([s]) => s === site)) {
      console.log(
        `  (${site} injected nothing in ${t.calls} calls at ${invisible[site]}: too few calls to tell)`,
      );
    }
  }
  if (silent.length > 0) {
    console.log(
      `sites that injected nothing over all seeds: ${silent.map(([s, t]) => `${s} (${t.calls} calls)`).join(', ')}`,
    );
    failed = true;
  }
  const cases = await child(['--backend', values.backend, '--role', 'cases'], faultEnv(''));
  if (cases.report === undefined || cases.code !== 0) failed = true;
  if (cases.report !== undefined) {
    const r = cases.report;
    const balanced = r.counts.started === r.counts.finished;
    console.log(
      `${backend.label} fault cases: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped; operations started ${r.counts.started}, finished ${r.counts.finished}${balanced ? '' : ' (NOT EQUAL)'}; ` +
        `faults injected: ${Object.entries(r.injected)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ')}`,
    );
    if (!balanced) failed = true;
  }
  console.log(
    `fault injection on ${backend.label}: ${failed ? 'FAILED' : 'passed'} in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  return failed ? 1 : 0;
}

/**
 * Whether the seeded runs of this backend get the direct I/O cases and scripts (`direct`: the
 * temporary directory's file system takes O_DIRECT, and the backend is io_uring or runs Linux
 * AIO), and with them the Linux AIO sites (`aio`: the backend runs Linux AIO, by its addon's
 * probe; the fault build is loaded here too). `note` says what was decided, or why not.
 */
async function directIoHere() {
  if (backend.linuxAio !== true && backend.direct !== true) return { direct: false, aio: false };
  const { directIoUnavailable } = await import(conformanceUrl);
  const unavailable = directIoUnavailable();
  if (unavailable !== undefined) {
    return { direct: false, aio: false, note: `no direct I/O scripts or Linux AIO sites: ${unavailable}` };
  }
  if (backend.linuxAio !== true) {
    return {
      direct: true,
      aio: false,
      note: 'every seed also runs every direct I/O case and direct differential scripts',
    };
  }
  process.env[backend.addonVariable] = addon;
  const support = (await import(backendUrl)).default.linuxAio;
  if (support?.enabled !== true) {
    return {
      direct: false,
      aio: false,
      note: `no Linux AIO sites: ${support?.reason ?? 'the backend has no Linux AIO'}`,
    };
  }
  return {
    direct: true,
    aio: true,
    note: 'every seed also runs every direct I/O case and direct differential scripts, with the Linux AIO sites',
  };
}

async function seeded() {
  const started = performance.now();
  const conformance = await import(conformanceUrl);
  const target = await conformance.loadTarget(backendUrl);
  const faults = createRequire(import.meta.url)(process.env[backend.addonVariable]).faults;
  const oracle = (await conformance.loadTarget(join(root, 'packages/aio-node/dist/index.js'))).backend;
  const counted = conformance.countOperations(target.backend);
  const subject = { backend: counted.backend, backendUrl: target.backendUrl };
  const [index, of] = values.share.split('/').map(Number);
  // With --direct every direct I/O case, and this seed's hand of the others.
  const dealt = values.direct
    ? conformance.cases.filter((c) => !c.name.startsWith(DIRECT_CASES))
    : conformance.cases;
  const list = [
    ...(values.direct ? conformance.cases.filter((c) => c.name.startsWith(DIRECT_CASES)) : []),
    ...dealt.filter((c, i) => i % of === index && !LEFT_OUT.some(([name]) => c.name.startsWith(name))),
  ];
  const result = await conformance.runSuite(subject, {
    cases: list,
    report(name, outcome, detail) {
      if (outcome !== 'failed') return;
      const text = detail instanceof Error ? (detail.stack ?? detail.message) : String(detail);
      console.log(`  FAIL  seed ${values.seed}: ${name}\n${text.replace(/^/gm, '        ')}`);
    },
  });
  const differential = { passed: 0, failed: 0 };
  const options = conformance.socketScriptOptionsHere();
  const kinds = [
    'files',
    ...(values.direct ? ['direct'] : []),
    ...(conformance.canRunSocketScripts(target.backend, oracle) ? ['sockets'] : []),
  ];
  const seed = Number(values.seed);
  for (const kind of kinds) {
    for (let s = 0; s < Number(values.scripts); s++) {
      const scriptSeed = seed * 1000 + s;
      const divergence = await conformance.compareOnScript(
        counted.backend,
        oracle,
        kind,
        scriptSeed,
        Number(values.steps),
        options,
      );
      if (divergence === undefined) differential.passed++;
      else {
        differential.failed++;
        console.log(
          `  FAIL  seed ${seed}: differential ${kind} script ${scriptSeed}, step ${divergence.index}: ${JSON.stringify(divergence.step)}\n` +
            `        aio-node: ${divergence.expected}\n        ${backend.label}: ${divergence.actual}`,
        );
      }
    }
  }
  const report = {
    seed,
    cases: { passed: result.passed, failed: result.failed, skipped: result.skipped },
    differential,
    counts: { ...counted.counts },
    faults: faults(),
    seconds: (performance.now() - started) / 1000,
  };
  console.log(`REPORT ${JSON.stringify(report)}`);
  return 0;
}

async function explicitCases() {
  const conformance = await import(conformanceUrl);
  const target = await conformance.loadTarget(backendUrl);
  const faults = createRequire(import.meta.url)(process.env[backend.addonVariable]).faults;
  const counted = conformance.countOperations(target.backend);
  const pool = conformance.countOperations(await backend.poolBackend(await import(backendUrl)));
  const subject = { backend: counted.backend, backendUrl: target.backendUrl };
  let passed = 0;
  let failed = 0;
  // A new schedule zeroes the addon's counts: what the old one injected is added up first.
  const injected = {};
  const addUp = () => {
    for (const [site, s] of Object.entries(faults().sites))
      if (s.injected > 0) injected[site] = (injected[site] ?? 0) + s.injected;
  };
  const control = (spec) => {
    if (spec !== undefined) addUp();
    return faults(spec);
  };
  let skipped = 0;
  for (const c of conformance.faultCases) {
    // A fault of another mechanism (io_uring's submission queue, Linux AIO): said, not run.
    const skip = c.skip?.(target.backend);
    if (skip !== undefined) {
      skipped++;
      console.log(`  skip  ${c.name} (${skip})`);
      continue;
    }
    // waitSync's wait woken for nothing: io_uring's waitSync waits in io_uring_enter, whose
    // interruptions the seeded runs inject (uring_enter_eintr).
    if (values.backend === 'uring' && c.name.startsWith('waitSync: woken with nothing')) {
      console.log(`  skip  ${c.name} (a readiness and IOCP wait fault: io_uring waits in io_uring_enter)`);
      continue;
    }
    // ENFILE: Winsock has no system-wide table to run out of (WSASocketW documents WSAEMFILE,
    // and WSAENOBUFS, which is ENOBUFS): IOCP's addon has no such fault to inject.
    if (values.backend === 'iocp' && c.name.startsWith('accept: ENFILE')) {
      console.log(`  skip  ${c.name} (Windows has no ENFILE: WSASocketW reports WSAEMFILE or WSAENOBUFS)`);
      continue;
    }
    try {
      await conformance.runCase(
        { name: c.name, run: (t) => c.run({ ...t, faults: control, poolBackend: pool.backend }) },
        subject,
      );
      passed++;
      console.log(`  ok    ${c.name}`);
    } catch (error) {
      failed++;
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.log(`  FAIL  ${c.name}\n${text.replace(/^/gm, '        ')}`);
    }
    control('');
  }
  const counts = {
    started: counted.counts.started + pool.counts.started,
    finished: counted.counts.finished + pool.counts.finished,
  };
  console.log(`REPORT ${JSON.stringify({ passed, failed, skipped, counts, injected })}`);
  return failed > 0 ? 1 : 0;
}
