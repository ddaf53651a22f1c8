// pnpm soak [--minutes N] [--backend PACKAGE] [--every SECONDS] [--json FILE]
//
// A long run of the differential runner (random file and socket scripts on the backend and on
// the node reference backend, every result compared) and of a socket churn workload (clients
// that come and go, receives through a pool far too small, closes while receives wait) side by
// side. Each runs in a process of its own: the differential scripts operate on descriptors they
// closed (expecting EBADF), which in a shared process could be another workload's by then.
// Once a minute (--every) it prints what ran, operations per second and each process's memory.
// It fails on any difference between the backends, on a churn that leaves something unfinished
// or fails in a way churn does not explain, on an operation started and never finished (or
// finished twice), and on memory that keeps growing: a process's RSS at the end more than
// max(32 MiB, 10%) above its lowest RSS in the run's middle third (the first third is warm-up).
// --backend: @proactor/aio-uring, aio-epoll, aio-kqueue (where built) or aio-node. The default
// is io_uring where it is built, else the node backend (which then only churns: it would be
// compared with itself).
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    backend: { type: 'string' },
    every: { type: 'string', default: '60' },
    json: { type: 'string' },
    role: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
const every = Number(values.every);
if (!(minutes > 0) || !(every > 0)) {
  console.error('usage: pnpm soak [--minutes N] [--backend PACKAGE] [--every SECONDS] [--json FILE]');
  process.exit(2);
}
const PACKAGES = {
  '@proactor/aio-uring': 'packages/aio-uring',
  '@proactor/aio-epoll': 'packages/aio-epoll',
  '@proactor/aio-kqueue': 'packages/aio-kqueue',
  '@proactor/aio-node': 'packages/aio-node',
};
const name =
  values.backend ??
  (process.platform === 'linux' && existsSync(join(root, 'packages/aio-uring/dist/index.js'))
    ? '@proactor/aio-uring'
    : '@proactor/aio-node');
if (!(name in PACKAGES)) {
  console.error(`soak: --backend takes ${Object.keys(PACKAGES).join(', ')}, not '${name}'`);
  process.exit(2);
}
const load = async (dir) => (await import(pathToFileURL(join(root, dir, 'dist/index.js')).href)).default;

if (values.role !== undefined) await child(values.role);
else await parent();

/** One workload in this process, reporting a JSON line every 10 s and a last one at the end. */
async function child(role) {
  const conformance = await import(pathToFileURL(join(root, 'packages/aio-conformance/dist/index.js')).href);
  const subject = await load(PACKAGES[name]);
  const oracle = await load('packages/aio-node');
  const counted = conformance.countOperations(subject);
  const deadline = Date.now() + minutes * 60_000;
  const state = { role, scripts: 0, steps: 0, churns: 0, connections: 0, bytes: 0, failures: [] };
  const report = (done) => {
    const { rss, heapUsed } = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({ ...state, ...counted.counts, rss, heapUsed, done })}\n`);
  };
  const timer = setInterval(() => report(false), 10_000);
  report(false);
  if (role === 'differential') {
    const STEPS = 300;
    const options = conformance.socketScriptOptionsHere();
    const kinds = conformance.canRunSocketScripts(subject, oracle) ? ['files', 'sockets'] : ['files'];
    for (
      let seed = (Date.now() % 1_000_000) + 1;
      Date.now() < deadline && state.failures.length === 0;
      seed++
    ) {
      for (const kind of kinds) {
        const divergence = await conformance.compareOnScript(
          counted.backend,
          oracle,
          kind,
          seed,
          STEPS,
          options,
        );
        state.scripts++;
        state.steps += STEPS;
        if (divergence !== undefined) {
          state.failures.push(
            `${kind} script seed ${seed}, step ${divergence.index}: ${JSON.stringify(divergence.step)}; ` +
              `${oracle.name}: ${divergence.expected}; ${subject.name}: ${divergence.actual}`,
          );
        }
      }
    }
  } else {
    while (Date.now() < deadline && state.failures.length === 0) {
      const seconds = Math.min(10, Math.max(1, (deadline - Date.now()) / 1000));
      const churn = await conformance.socketChurn(counted.backend, { seconds });
      state.churns++;
      state.connections += churn.connections;
      state.bytes += churn.bytes;
      const failure = conformance.churnFailure(churn);
      if (failure !== undefined) state.failures.push(`churn: ${failure}: ${JSON.stringify(churn)}`);
    }
  }
  clearInterval(timer);
  // Every queue was destroyed: every operation started has had its one final result.
  if (counted.counts.started !== counted.counts.finished) {
    state.failures.push(`${counted.counts.started} operations started, ${counted.counts.finished} finished`);
  }
  globalThis.gc?.();
  report(true);
}

async function parent() {
  const subjectName = (await load(PACKAGES[name])).name;
  const roles = subjectName === 'node' ? ['churn'] : ['differential', 'churn'];
  const started = Date.now();
  const latest = {};
  const samples = Object.fromEntries(roles.map((r) => [r, []]));
  const exits = roles.map(
    (role) =>
      new Promise((resolve) => {
        const args = [
          '--expose-gc',
          fileURLToPath(import.meta.url),
          '--role',
          role,
          '--minutes',
          String(minutes),
        ];
        const proc = spawn(process.execPath, [...args, '--backend', name], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        createInterface({ input: proc.stdout }).on('line', (line) => {
          let report;
          try {
            report = JSON.parse(line);
          } catch {
            process.stdout.write(`${role}: ${line}\n`);
            return;
          }
          latest[role] = report;
          samples[role].push({
            at: Date.now() - started,
            rss: report.rss,
            ops: report.finished + report.items,
          });
        });
        proc.on('close', (code, signal) => resolve({ role, code, signal }));
      }),
  );
  const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
  let lastOps = 0;
  let lastAt = started;
  const print = () => {
    const now = Date.now();
    const reports = roles.map((r) => latest[r]).filter(Boolean);
    const ops = reports.reduce((sum, r) => sum + r.finished + r.items, 0);
    // Since the last line; the closing line (right after the last one) gives the whole run's.
    const rate =
      now - lastAt >= 5_000 ? ((ops - lastOps) * 1000) / (now - lastAt) : (ops * 1000) / (now - started);
    lastOps = ops;
    lastAt = now;
    const elapsed = Math.round((now - started) / 1000);
    const d = latest.differential;
    const c = latest.churn;
    console.log(
      [
        `[${String(Math.floor(elapsed / 60)).padStart(3)}m${String(elapsed % 60).padStart(2, '0')}s]`,
        d ? `differential ${d.scripts} scripts (${d.steps} steps), RSS ${mib(d.rss)} MiB;` : '',
        c ? `churn ${c.connections} connections (${mib(c.bytes)} MiB), RSS ${mib(c.rss)} MiB;` : '',
        `${Math.round(rate)} ops/s;`,
        `failures ${reports.reduce((n, r) => n + r.failures.length, 0)}`,
      ]
        .filter(Boolean)
        .join(' '),
    );
  };
  console.log(
    `soak: ${minutes} min on ${subjectName} (${name}): ${roles.includes('differential') ? 'differential vs node and ' : ''}socket churn, one process each`,
  );
  const timer = setInterval(print, every * 1000);
  const ended = await Promise.all(exits);
  clearInterval(timer);
  print();

  const failures = [];
  for (const { role, code, signal } of ended) {
    const last = latest[role];
    if (code !== 0 || !last?.done)
      failures.push(`${role}: the process ended with ${signal ?? code} before its report`);
    for (const f of last?.failures ?? []) failures.push(`${role}: ${f}`);
    // Memory that keeps growing: the end against the lowest point of the middle third.
    const middle = samples[role].filter(
      (s) => s.at >= (minutes * 60_000) / 3 && s.at < (2 * minutes * 60_000) / 3,
    );
    if (last && middle.length > 0) {
      const floor = Math.min(...middle.map((s) => s.rss));
      const allowed = Math.max(32 * 2 ** 20, floor * 0.1);
      last.growthAfterWarmup = last.rss - floor;
      if (last.rss - floor > allowed) {
        failures.push(
          `${role}: RSS grew by ${mib(last.rss - floor)} MiB after the warm-up (allowed ${mib(allowed)} MiB)`,
        );
      }
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const summary = {
    backend: subjectName,
    minutes,
    workloads: Object.fromEntries(
      roles.map((r) => {
        const last = latest[r] ?? {};
        const first = samples[r][0];
        return [
          r,
          {
            scripts: last.scripts,
            steps: last.steps,
            connections: last.connections,
            bytes: last.bytes,
            operations: { started: last.started, finished: last.finished, items: last.items },
            opsPerSecond: Math.round(((last.finished ?? 0) + (last.items ?? 0)) / seconds),
            rss: {
              start: first?.rss,
              end: last.rss,
              max: Math.max(...samples[r].map((s) => s.rss)),
              growthAfterWarmup: last.growthAfterWarmup,
            },
          },
        ];
      }),
    ),
    failures,
  };
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ ...summary, samples }, null, 2)}\n`);
  console.log(JSON.stringify(summary));
  for (const f of failures) console.log(`FAIL ${f}`);
  console.log(failures.length === 0 ? 'soak ok' : `soak FAILED (${failures.length})`);
  process.exit(failures.length === 0 ? 0 : 1);
}
