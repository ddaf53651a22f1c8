#!/usr/bin/env node
/**
 * proactor-conformance <backend> [--filter TEXT] [--list] [--quiet]
 * proactor-conformance <backend> --differential [--against BACKEND] [--seed N] [--scripts N] [--steps N]
 *
 * Runs the conformance suite against a backend in a plain Node process: no test framework, so
 * it also runs under Wine and on bare machines. <backend> is a package name resolved from the
 * current directory, as a user's project would resolve it, or a path to a module file whose
 * default export is the backend. Ends with "N passed, N failed, N skipped"; exits 1 on failure.
 *
 * --differential runs random operation scripts on <backend> and on the oracle (--against,
 * default @proactor/aio-node) and compares every result; each script counts as one test.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, parseArgs } from 'node:util';
import { skipReason } from './case.js';
import { compareBackends, generateScript } from './differential.js';
import { cases, loadTarget, type Target } from './runner.js';
import { runSuite } from './suite.js';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      filter: { type: 'string' },
      list: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      differential: { type: 'boolean', default: false },
      against: { type: 'string', default: '@proactor/aio-node' },
      seed: { type: 'string' },
      scripts: { type: 'string', default: '20' },
      steps: { type: 'string', default: '300' },
    },
  });
  if (values.help || positionals.length !== 1) {
    process.stdout.write(
      'usage: proactor-conformance <backend package or module path> [--filter TEXT] [--list] [--quiet]\n',
    );
    return values.help ? 0 : 2;
  }
  const target = await loadTarget(positionals[0]);
  const { backend } = target;
  if (values.differential) {
    const seed = values.seed === undefined ? (Date.now() % 1_000_000) + 1 : Number(values.seed);
    return differential(
      target,
      await loadTarget(values.against),
      seed,
      Number(values.scripts),
      Number(values.steps),
    );
  }
  if (values.list) {
    for (const c of cases) {
      const reason = skipReason(c, backend);
      process.stdout.write(`${c.name}${reason ? `  [skip: ${reason}]` : ''}\n`);
    }
    return 0;
  }
  process.stdout.write(`proactor conformance: ${backend.name} backend from ${target.backendUrl}\n`);
  const started = performance.now();
  const result = await runSuite(target, {
    filter: values.filter,
    report(name, outcome, detail) {
      if (outcome === 'passed') {
        if (!values.quiet) process.stdout.write(`  ok    ${name}\n`);
      } else if (outcome === 'skipped') process.stdout.write(`  skip  ${name} (${String(detail)})\n`);
      else {
        process.stdout.write(`  FAIL  ${name}\n`);
        const text = detail instanceof Error ? (detail.stack ?? detail.message) : inspect(detail);
        process.stdout.write(`${text.replace(/^/gm, '        ')}\n`);
      }
    },
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`${backend.name}: ${cases.length} cases in ${seconds} s\n`);
  process.stdout.write(`${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped\n`);
  return result.failed > 0 ? 1 : 0;
}

async function differential(subject: Target, oracle: Target, seed: number, scripts: number, steps: number) {
  const names = `${subject.backend.name} (${subject.backendUrl}) vs ${oracle.backend.name} (${oracle.backendUrl})`;
  process.stdout.write(
    `differential: ${names}\n${scripts} scripts of ${steps} steps, seeds ${seed}..${seed + scripts - 1}\n`,
  );
  let passed = 0;
  let failed = 0;
  for (let s = seed; s < seed + scripts; s++) {
    const root = mkdtempSync(join(tmpdir(), 'proactor-differential-'));
    try {
      const dirs = { subject: join(root, 'subject'), oracle: join(root, 'oracle') };
      mkdirSync(dirs.subject);
      mkdirSync(dirs.oracle);
      const divergence = await compareBackends(
        subject.backend,
        oracle.backend,
        dirs,
        generateScript(s, steps),
      );
      if (divergence === undefined) passed++;
      else {
        failed++;
        process.stdout.write(
          `  FAIL  seed ${s}, step ${divergence.index}: ${JSON.stringify(divergence.step)}\n` +
            `        ${oracle.backend.name}: ${divergence.expected}\n        ${subject.backend.name}: ${divergence.actual}\n`,
        );
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  process.stdout.write(`${passed} passed, ${failed} failed, 0 skipped\n`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`proactor-conformance: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
