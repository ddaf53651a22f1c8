#!/usr/bin/env node
/**
 * proactor-conformance <backend> [--filter TEXT] [--list] [--quiet]
 *
 * Runs the conformance suite against a backend in a plain Node process: no test framework, so
 * it also runs under Wine and on bare machines. <backend> is a package name resolved from the
 * current directory, as a user's project would resolve it, or a path to a module file whose
 * default export is the backend. Ends with "N passed, N failed, N skipped"; exits 1 on failure.
 */
import { inspect, parseArgs } from 'node:util';
import { skipReason } from './case.js';
import { cases, loadTarget } from './runner.js';
import { runSuite } from './suite.js';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      filter: { type: 'string' },
      list: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
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

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`proactor-conformance: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
