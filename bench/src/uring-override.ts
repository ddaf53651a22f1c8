/**
 * Runs a benchmark's child processes against another build of @proactor/aio-uring (an A/B in one
 * run): a module resolve hook, registered with `node --import`, makes every import of
 * '@proactor/aio-uring' in that process load `<packageDir>/dist/index.js`. The package directory
 * needs its dist, build/Release (the addon), package.json and node_modules.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Writes the hook and returns the `--import` argument that registers it. */
export function uringOverrideImport(packageDir: string): string {
  const hookDir = mkdtempSync(join(tmpdir(), 'proactor-ab-'));
  const url = pathToFileURL(join(resolve(packageDir), 'dist', 'index.js')).href;
  writeFileSync(
    join(hookDir, 'hook.mjs'),
    `export async function resolve(specifier, context, next) {
  if (specifier === '@proactor/aio-uring') return { url: ${JSON.stringify(url)}, shortCircuit: true };
  return next(specifier, context);
}
`,
  );
  writeFileSync(
    join(hookDir, 'register.mjs'),
    `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(join(hookDir, 'hook.mjs')).href)});
`,
  );
  return pathToFileURL(join(hookDir, 'register.mjs')).href;
}
