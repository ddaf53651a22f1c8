import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { nativeBuildPlan } from './scripts/build-native.mjs';

const root = fileURLToPath(new URL('.', import.meta.url));

// Every package and example is a project, except a native package whose addon is not built on
// this OS (scripts/build-native.mjs): its tests need the addon. scripts/test.mjs reports each one
// left out, with the reason, in its summary.
const projects = ['packages', 'examples'].flatMap((parent) =>
  readdirSync(join(root, parent))
    .map((name) => join(parent, name))
    .filter((dir) => existsSync(join(root, dir, 'package.json')))
    .filter(
      (dir) => !existsSync(join(root, dir, 'CMakeLists.txt')) || nativeBuildPlan(join(root, dir)).build,
    ),
);

export default defineConfig({ test: { projects: [...projects, 'scripts'] } });
