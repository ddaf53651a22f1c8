// The TypeScript snippets of the READMEs and docs/, checked as a user would meet them: each
// ```ts (or ```js) block is compiled against the built packages with the strict settings of
// the pack-install test, and the runnable ones are run in an empty directory on aio-node and,
// on Linux, on aio-uring.
//
// An HTML comment right before a fence says what a block is (no comment: a complete module,
// type-checked only):
//   <!-- snippet: run -->                        a complete program: type-checked, then run
//   <!-- snippet: run files=data.bin -->         ... in a directory holding data.bin (64 KiB)
//   <!-- snippet: run backends=io_uring -->      ... only on these backends (default: node, io_uring)
//   <!-- snippet: fragment                       part of a program: compiled after the lines
//   import type { Queue } from '@proactor/aio-core';   between the first line and `-->`, which
//   declare const q: Queue;                      declare what it uses
//   -->
//   <!-- snippet: skip <reason> -->              not compiled, reported as skipped with the reason
// A run on one backend rewrites imports of the other backend package to it and sets
// PROACTOR_BACKEND, so `@proactor/aio` picks it too.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
// Inside packages/aio, so that the snippets resolve @proactor/* (and @proactor/aio itself) as
// an installed package's dependents do; build/ is ignored by git.
const work = fileURLToPath(new URL('../build/doc-snippets/', import.meta.url));

type Mode = 'check' | 'run' | 'fragment' | 'skip';
const BACKENDS = ['node', 'io_uring'] as const;
type BackendName = (typeof BACKENDS)[number];
const PACKAGE_OF: Record<BackendName, string> = {
  node: '@proactor/aio-node',
  io_uring: '@proactor/aio-uring',
};

interface Snippet {
  /** 'README.md:64': the file and the line of the opening fence. */
  where: string;
  mode: Mode;
  code: string;
  /** 1-based line of the snippet's first line in its file. */
  line: number;
  /** fragment: the declarations compiled before it. skip: the reason. */
  preamble: string;
  backends: readonly BackendName[];
  files: readonly string[];
}

/** The ```ts / ```typescript / ```js blocks of `markdown`, with what the comment before each says. */
function extractSnippets(markdown: string, file: string): Snippet[] {
  const lines = markdown.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript|js)\s*$/.test(lines[i] ?? '')) continue;
    const fence = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ''); i++) body.push(lines[i] ?? '');
    if (i >= lines.length) throw new Error(`${file}:${fence + 1}: the fence is never closed`);
    const marker = markerBefore(lines, fence);
    const snippet: Snippet = {
      where: `${file}:${fence + 1}`,
      mode: 'check',
      code: body.join('\n'),
      line: fence + 2,
      preamble: '',
      backends: BACKENDS,
      files: [],
    };
    if (marker !== undefined) {
      const [head = '', ...rest] = marker.split('\n');
      const [mode = '', ...words] = head.trim().split(/\s+/);
      if (mode !== 'run' && mode !== 'fragment' && mode !== 'skip' && mode !== 'check') {
        throw new Error(`${snippet.where}: unknown snippet mode '${mode}' (run, fragment, skip, check)`);
      }
      snippet.mode = mode;
      if (mode === 'skip') {
        snippet.preamble = [words.join(' '), ...rest].join(' ').trim();
        if (snippet.preamble === '') throw new Error(`${snippet.where}: a skipped snippet says why`);
      } else {
        for (const word of words) {
          const [key, value = ''] = word.split('=');
          if (key === 'backends') {
            const names = value.split(',');
            for (const name of names) {
              if (!(BACKENDS as readonly string[]).includes(name))
                throw new Error(`${snippet.where}: unknown backend '${name}'`);
            }
            snippet.backends = names as BackendName[];
          } else if (key === 'files') snippet.files = value.split(',');
          else throw new Error(`${snippet.where}: unknown snippet option '${word}'`);
        }
        snippet.preamble = rest.join('\n');
      }
    }
    out.push(snippet);
  }
  return out;
}

/** The text of a `<!-- snippet: ... -->` comment ending right above line `fence`, blank lines aside. */
function markerBefore(lines: readonly string[], fence: number): string | undefined {
  let end = fence - 1;
  while (end >= 0 && (lines[end] ?? '').trim() === '') end--;
  if (end < 0 || !(lines[end] ?? '').trimEnd().endsWith('-->')) return undefined;
  let start = end;
  while (start >= 0 && !(lines[start] ?? '').includes('<!--')) start--;
  if (start < 0) return undefined;
  const text = lines
    .slice(start, end + 1)
    .join('\n')
    .replace(/^[\s\S]*?<!--\s*/, '')
    .replace(/\s*-->\s*$/, '');
  return text.startsWith('snippet:') ? text.slice('snippet:'.length) : undefined;
}

/** The markdown a user reads: the READMEs (root, packages, examples), docs/*.md, SECURITY.md. */
function documents(): string[] {
  const list = ['README.md', 'SECURITY.md'];
  for (const dir of ['packages', 'examples']) {
    for (const name of readdirSync(join(root, dir)).sort()) {
      if (existsSync(join(root, dir, name, 'README.md'))) list.push(`${dir}/${name}/README.md`);
    }
  }
  for (const name of readdirSync(join(root, 'docs')).sort())
    if (name.endsWith('.md')) list.push(`docs/${name}`);
  return list.filter((file) => existsSync(join(root, file)));
}

// The pack-install test's settings, less the unused-name checks: a snippet shows a call and
// may leave its result unused.
const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  noImplicitReturns: true,
  noPropertyAccessFromIndexSignature: true,
  noFallthroughCasesInSwitch: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  skipLibCheck: false,
  outDir: join(work, 'out'),
  rootDir: work,
};

interface Compiled {
  snippet: Snippet;
  source: string;
  /** Lines of the compiled file before the snippet's first line. */
  offset: number;
  errors: string[];
  output: string | undefined;
}

function compile(snippets: readonly Snippet[]): Compiled[] {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const compiled = snippets.map((snippet, index): Compiled => {
    const source = join(work, `snippet-${index}.ts`);
    const head = snippet.preamble === '' ? '' : `${snippet.preamble}\n`;
    // export {}: a module even without imports, so that top-level await compiles.
    writeFileSync(source, `${head}${snippet.code}\nexport {};\n`);
    return { snippet, source, offset: head.split('\n').length - 1, errors: [], output: undefined };
  });
  const program = ts.createProgram(
    compiled.map((c) => c.source),
    compilerOptions,
  );
  const bySource = new Map(compiled.map((c) => [resolve(c.source), c]));
  const global: string[] = [];
  for (const d of [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]) {
    global.push(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  }
  for (const d of ts.getPreEmitDiagnostics(program)) {
    // resolve(): TypeScript names files with '/', which on Windows join() does not.
    const entry = d.file ? bySource.get(resolve(d.file.fileName)) : undefined;
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!entry || !d.file || d.start === undefined) {
      const where = d.file ? relative(root, d.file.fileName) : 'options';
      global.push(`${where}: TS${d.code} ${text}`);
      continue;
    }
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const [file] = entry.snippet.where.split(':');
    const at =
      line < entry.offset
        ? `${entry.snippet.where} (its declarations)`
        : `${file}:${entry.snippet.line + line - entry.offset}`;
    entry.errors.push(`${at}: TS${d.code} ${text}`);
  }
  if (global.length > 0) for (const c of compiled) c.errors.push(...global);
  program.emit(undefined, (fileName, text) => {
    const source = resolve(work, relative(join(work, 'out'), fileName)).replace(/\.js$/, '.ts');
    const entry = bySource.get(source);
    if (entry) entry.output = text;
  });
  return compiled;
}

/** Why `backend` cannot run snippets here, or undefined when it can. */
function unavailable(backend: BackendName): string | undefined {
  if (backend === 'node') return undefined;
  if (process.platform !== 'linux') return 'io_uring is Linux only';
  const probe = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `await import('${PACKAGE_OF.io_uring}')`],
    {
      cwd: work,
      encoding: 'utf8',
    },
  );
  return probe.status === 0
    ? undefined
    : `@proactor/aio-uring does not load here: ${probe.stderr.trim().split('\n')[0]}`;
}

function runOn(entry: Compiled, index: number, backend: BackendName) {
  const other = BACKENDS.filter((b) => b !== backend).map((b) => PACKAGE_OF[b]);
  let text = entry.output ?? '';
  for (const name of other) text = text.replaceAll(`'${name}'`, `'${PACKAGE_OF[backend]}'`);
  const program = join(work, `snippet-${index}.${backend}.mjs`);
  writeFileSync(program, text);
  const dir = mkdtempSync(join(tmpdir(), 'proactor-snippet-'));
  try {
    for (const name of entry.snippet.files) writeFileSync(join(dir, name), randomBytes(64 * 1024));
    return spawnSync(process.execPath, [program], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, PROACTOR_BACKEND: backend },
      timeout: 60_000,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('extractSnippets', () => {
  it('reads the mode, options and declarations from the comment before a fence', () => {
    const markdown = [
      '<!-- snippet: run backends=node files=a.bin,b.bin -->',
      '```ts',
      'run();',
      '```',
      '<!-- snippet: fragment',
      'declare const q: number;',
      '-->',
      '',
      '```js',
      'q;',
      '```',
      '<!-- snippet: skip needs a second machine -->',
      '```ts',
      'x',
      '```',
      '```ts',
      'plain();',
      '```',
      '```sh',
      'not typescript',
      '```',
    ].join('\n');
    const found = extractSnippets(markdown, 'X.md');
    expect(found.map((s) => [s.where, s.mode, s.line])).toEqual([
      ['X.md:2', 'run', 3],
      ['X.md:9', 'fragment', 10],
      ['X.md:13', 'skip', 14],
      ['X.md:16', 'check', 17],
    ]);
    expect(found[0]).toMatchObject({ backends: ['node'], files: ['a.bin', 'b.bin'], code: 'run();' });
    expect(found[1]?.preamble).toBe('declare const q: number;');
    expect(found[2]?.preamble).toBe('needs a second machine');
    expect(found[3]?.backends).toEqual(['node', 'io_uring']);
  });

  it('refuses an unknown mode, option or backend, and a skip without a reason', () => {
    const fenced = (comment: string) => `${comment}\n\`\`\`ts\nx\n\`\`\`\n`;
    expect(() => extractSnippets(fenced('<!-- snippet: runn -->'), 'X.md')).toThrow(/unknown snippet mode/);
    expect(() => extractSnippets(fenced('<!-- snippet: run fast=1 -->'), 'X.md')).toThrow(
      /unknown snippet option/,
    );
    expect(() => extractSnippets(fenced('<!-- snippet: run backends=epol -->'), 'X.md')).toThrow(
      /unknown backend/,
    );
    expect(() => extractSnippets(fenced('<!-- snippet: skip -->'), 'X.md')).toThrow(/says why/);
  });
});

const built = existsSync(join(root, 'packages/aio/dist/index.js'));
const snippets = built
  ? documents().flatMap((file) => extractSnippets(readFileSync(join(root, file), 'utf8'), file))
  : [];
const compiled = built ? compile(snippets.filter((s) => s.mode !== 'skip')) : [];
const usable = new Map(BACKENDS.map((b) => [b, built ? unavailable(b) : 'not built']));

describe.skipIf(!built)('documentation snippets (needs pnpm build)', () => {
  it('finds the snippets of the READMEs and docs/', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(10);
    expect(snippets.some((s) => s.mode === 'run')).toBe(true);
  });

  for (const s of snippets.filter((s) => s.mode === 'skip')) it.skip(`${s.where}: ${s.preamble}`, () => {});

  compiled.forEach((entry, index) => {
    it(`${entry.snippet.where} type-checks (${entry.snippet.mode})`, () => {
      expect(entry.errors).toEqual([]);
    });
    if (entry.snippet.mode !== 'run') return;
    for (const backend of entry.snippet.backends) {
      const reason = usable.get(backend);
      it.skipIf(reason !== undefined)(
        `${entry.snippet.where} runs on ${backend}${reason === undefined ? '' : ` (skipped: ${reason})`}`,
        () => {
          expect(entry.errors).toEqual([]);
          const result = runOn(entry, index, backend);
          expect({ status: result.status, signal: result.signal, stderr: result.stderr }).toEqual({
            status: 0,
            signal: null,
            stderr: '',
          });
        },
        90_000,
      );
    }
  });
});
