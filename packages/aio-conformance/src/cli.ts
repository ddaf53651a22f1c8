#!/usr/bin/env node
import { inspect, parseArgs } from 'node:util';
import { skipReason } from './case.js';
import { directIoUnavailable } from './cases/direct-io.js';
import {
  canRunSocketScripts,
  compareOnScript,
  type ScriptKind,
  socketScriptOptionsHere,
} from './differential.js';
import { cases, loadTarget, type Target } from './runner.js';
import { runSuite, selectCases } from './suite.js';

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
      kinds: { type: 'string', default: 'files,sockets' },
    },
  });
  if (values.help || positionals.length !== 1) {
    process.stdout.write(
      'usage: proactor-conformance <backend package or module path> [--filter TEXT] [--list] [--quiet]\n' +
        '       proactor-conformance <backend> --differential [--against BACKEND] [--seed N] [--scripts N]\n' +
        '                            [--steps N] [--kinds files,direct,sockets]\n',
    );
    return values.help ? 0 : 2;
  }
  const target = await loadTarget(positionals[0]);
  const { backend } = target;
  if (values.differential) {
    const seed = values.seed === undefined ? (Date.now() % 1_000_000) + 1 : Number(values.seed);
    const kinds = values.kinds.split(',').map((k) => k.trim());
    const unknown = kinds.filter((k) => k !== 'files' && k !== 'direct' && k !== 'sockets');
    if (unknown.length > 0 || kinds.length === 0) {
      process.stderr.write(
        `proactor-conformance: --kinds takes files, direct, sockets or a list of them, not '${values.kinds}'\n`,
      );
      return 2;
    }
    return differential(
      target,
      await loadTarget(values.against),
      seed,
      Number(values.scripts),
      Number(values.steps),
      kinds as ScriptKind[],
    );
  }
  if (values.list) {
    for (const c of cases) {
      const reason = skipReason(c, backend);
      process.stdout.write(`${c.name}${reason ? `  [skip: ${reason}]` : ''}\n`);
    }
    return 0;
  }
  const selected = selectCases(values.filter);
  const counted = values.filter === undefined ? '' : ` matching '${values.filter}' (of ${cases.length})`;
  process.stdout.write(
    `proactor conformance: ${backend.name} backend from ${target.backendUrl}, ${selected.length} cases${counted}\n`,
  );
  const started = performance.now();
  const result = await runSuite(target, {
    cases: selected,
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
  process.stdout.write(`${backend.name}: ${selected.length} cases in ${seconds} s\n`);
  process.stdout.write(`${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped\n`);
  return result.failed > 0 ? 1 : 0;
}

async function differential(
  subject: Target,
  oracle: Target,
  seed: number,
  scripts: number,
  steps: number,
  kinds: ScriptKind[],
) {
  const names = `${subject.backend.name} (${subject.backendUrl}) vs ${oracle.backend.name} (${oracle.backendUrl})`;
  // Socket scripts only where both backends have the socket operations.
  const sockets = kinds.includes('sockets') && canRunSocketScripts(subject.backend, oracle.backend);
  const socketOptions = socketScriptOptionsHere();
  process.stdout.write(
    `differential: ${names}\n${scripts} scripts of ${steps} steps per kind (${kinds.join(', ')}), seeds ${seed}..${seed + scripts - 1}\n`,
  );
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const kind of kinds) {
    const directUnavailable = kind === 'direct' ? directIoUnavailable() : undefined;
    if (directUnavailable !== undefined) {
      process.stdout.write(`  skip  direct scripts (${directUnavailable})\n`);
      skipped += scripts;
      continue;
    }
    if (kind === 'sockets' && !sockets) {
      process.stdout.write('  skip  socket scripts (a backend lacks socket operations)\n');
      skipped += scripts;
      continue;
    }
    if (kind === 'sockets' && !socketOptions.ipv6)
      process.stdout.write('  (no IPv6 loopback: IPv4 and unix only)\n');
    for (let s = seed; s < seed + scripts; s++) {
      const divergence = await compareOnScript(
        subject.backend,
        oracle.backend,
        kind,
        s,
        steps,
        socketOptions,
      );
      if (divergence === undefined) passed++;
      else {
        failed++;
        process.stdout.write(
          `  FAIL  ${kind} seed ${s}, step ${divergence.index}: ${JSON.stringify(divergence.step)}\n` +
            `        ${oracle.backend.name}: ${divergence.expected}\n        ${subject.backend.name}: ${divergence.actual}\n`,
        );
      }
    }
  }
  process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
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
