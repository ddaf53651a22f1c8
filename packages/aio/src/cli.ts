#!/usr/bin/env node
/**
 * proactor: the command line of @proactor/aio (`npx @proactor/aio <command>`).
 *
 *   proactor info                 the backend chosen here, why, and the facts that decide it
 *   proactor conformance [name]   the conformance suite on a backend (default: the chosen one)
 *   proactor bench [workload]     workloads against node:fs: a table, --json, --svg <file>
 *   proactor demo                 real file I/O through a queue on the chosen backend
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cac } from 'cac';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import pc from 'picocolors';
import { barChartSvg } from './bar-chart.js';
import { machineFacts } from './machine-facts.js';
import { runReadWorkload } from './read-workload.js';
import { type CandidateOutcome, type Selection, selectBackend } from './select.js';

const cli = cac('proactor');

function statusColor(outcome: CandidateOutcome): string {
  const status = outcome.status.padEnd(11);
  return outcome.status === 'selected'
    ? pc.green(status)
    : outcome.status === 'unavailable'
      ? pc.yellow(status)
      : pc.dim(status);
}

/** The io_uring opcodes this kernel has, by proactor operation, when the io_uring backend loaded. */
async function uringSupport(selection: Selection): Promise<Record<string, boolean> | undefined> {
  if (!selection.outcomes.some((o) => o.name === 'io_uring' && o.status === 'selected')) return undefined;
  const uring = (await import('@proactor/aio-uring')) as { kernelSupport: Readonly<Record<string, boolean>> };
  return uring.kernelSupport;
}

cli.command('info', 'Show the backend chosen here, why, and the facts that decide it').action(async () => {
  const selection = await selectBackend();
  const out: string[] = [`${pc.bold('backend')}: ${pc.green(selection.backend.name)}`, ''];
  out.push(pc.bold('candidates'));
  for (const o of selection.outcomes) {
    out.push(`  ${statusColor(o)} ${o.name.padEnd(8)} ${o.package}${o.reason ? `: ${o.reason}` : ''}`);
  }
  out.push('', pc.bold('facts'));
  for (const fact of machineFacts()) out.push(`  ${fact.name.padEnd(24)} ${fact.value}`);
  const support = await uringSupport(selection);
  if (support !== undefined) {
    const names = Object.keys(support).sort();
    const have = names.filter((n) => support[n]);
    const lack = names.filter((n) => !support[n]);
    out.push(
      `  ${'io_uring opcodes'.padEnd(24)} ${have.length} of ${names.length} operations: ${have.join(' ')}`,
    );
    if (lack.length > 0)
      out.push(`  ${'io_uring lacks'.padEnd(24)} ${lack.join(' ')} (file ones on the thread pool)`);
  }
  const capabilities = selection.backend.capabilities;
  const features = Object.entries(capabilities)
    .filter(([key, value]) => key !== 'ops' && value === true)
    .map(([key]) => key);
  out.push(`  ${'capabilities'.padEnd(24)} ${capabilities.ops.size} operations; ${features.join(', ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
});

cli
  .command('conformance [backend]', 'Run the conformance suite on a backend (default: the one chosen here)')
  .option('--filter <text>', 'Only the cases whose name contains <text>')
  .action(async (name: string | undefined, options: { filter?: string }) => {
    const { cases, loadTarget, runSuite, selectCases } = await import('@proactor/aio-conformance');
    const selection = await selectBackend(name === undefined ? {} : { backend: name });
    const chosen = selection.outcomes.find((o) => o.status === 'selected') as CandidateOutcome;
    const target = await loadTarget(import.meta.resolve(chosen.package));
    const selected = selectCases(options.filter, cases);
    process.stdout.write(
      `proactor conformance: ${target.backend.name} backend (${chosen.package}), ${selected.length} cases\n`,
    );
    const bar = new SingleBar({
      format: ' {bar} {value}/{total} {case}',
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stdout,
      noTTYOutput: false,
    });
    bar.start(selected.length, 0, { case: '' });
    const notes: string[] = [];
    const result = await runSuite(target, {
      cases: selected,
      report(caseName, outcome, detail) {
        if (outcome === 'skipped') notes.push(`  ${pc.dim('skip')}  ${caseName} (${String(detail)})`);
        if (outcome === 'failed') {
          const text = detail instanceof Error ? (detail.stack ?? detail.message) : String(detail);
          notes.push(`  ${pc.red('FAIL')}  ${caseName}\n${text.replace(/^/gm, '        ')}`);
        }
        bar.increment(1, { case: caseName.slice(0, 60) });
      },
    });
    bar.stop();
    if (notes.length > 0) process.stdout.write(`${notes.join('\n')}\n`);
    const summary = `${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped`;
    process.stdout.write(`${result.failed > 0 ? pc.red(summary) : pc.green(summary)}\n`);
    process.exitCode = result.failed > 0 ? 1 : 0;
  });

const WORKLOADS = ['read'] as const;

cli
  .command('bench [workload]', `Run a workload against node:fs (workloads: ${WORKLOADS.join(', ')})`)
  .option('--rounds <n>', 'Rounds per variant (the median is reported)', { default: 5 })
  .option('--reads <n>', 'Reads per round', { default: 100_000 })
  .option('--json', 'Print the results as JSON')
  .option('--svg <file>', 'Write a bar chart of the results to <file>')
  .action(
    async (
      workload: string | undefined,
      options: { rounds: number; reads: number; json?: boolean; svg?: string },
    ) => {
      const name = workload ?? 'read';
      if (!(WORKLOADS as readonly string[]).includes(name)) {
        throw Object.assign(new Error(`no workload '${name}': use one of ${WORKLOADS.join(', ')}`), {
          code: 'ERR_INVALID_ARG_VALUE',
        });
      }
      const rounds = positiveInteger(options.rounds, '--rounds');
      const reads = positiveInteger(options.reads, '--reads');
      const selection = await selectBackend();
      const dir = mkdtempSync(join(tmpdir(), 'proactor-bench-'));
      const bar = options.json
        ? undefined
        : new SingleBar({ format: ' {bar} round {value}/{total}', hideCursor: true, clearOnComplete: true });
      bar?.start(rounds, 0);
      try {
        const results = await runReadWorkload({
          dir,
          backend: selection.backend,
          rounds,
          reads,
          onRound: (done) => bar?.update(done),
        });
        bar?.stop();
        const baseline = results[1].opsPerSecond;
        const rows = results.map((r) => ({ ...r, ratio: r.opsPerSecond / baseline }));
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify({ workload: 'read', block: 4096, inFlight: 64, rounds, reads, baseline: results[1].name, results: rows }, null, 2)}\n`,
          );
        } else {
          process.stdout.write(
            `4 KiB random reads of a 64 MiB file in the page cache, 64 in flight; median of ${rounds} interleaved rounds of ${reads} reads\n`,
          );
          const table = new Table({
            head: ['variant', 'reads/s', `vs ${results[1].name}`],
            style: pc.isColorSupported ? {} : { head: [], border: [] },
          });
          for (const r of rows)
            table.push([
              r.name,
              Math.round(r.opsPerSecond).toLocaleString('en-US'),
              `${r.ratio.toFixed(2)}x`,
            ]);
          process.stdout.write(`${table.toString()}\n`);
        }
        if (options.svg !== undefined) {
          writeFileSync(
            options.svg,
            barChartSvg(
              '4 KiB random reads, page cache, 64 in flight',
              'reads/s',
              rows.map((r) => ({ label: r.name, value: r.opsPerSecond, note: `${r.ratio.toFixed(2)}x` })),
            ),
          );
          if (!options.json) process.stdout.write(`chart: ${options.svg}\n`);
        }
      } finally {
        bar?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

function positiveInteger(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw Object.assign(new RangeError(`${flag} must be a positive integer, not ${String(value)}`), {
      code: 'ERR_OUT_OF_RANGE',
    });
  }
  return n;
}

cli
  .command('demo', 'Write, read back at random offsets and verify a 32 MiB file through a queue')
  .action(async () => {
    await import('./demo.js');
  });

cli.help();
cli.parse(process.argv, { run: false });
if (cli.matchedCommand === undefined && cli.args.length === 0 && !cli.options.help) cli.outputHelp();
else {
  Promise.resolve(cli.runMatchedCommand()).catch((error: unknown) => {
    process.stderr.write(`proactor: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  });
}
