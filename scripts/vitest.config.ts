import { defineConfig } from 'vitest/config';

// The repository's own scripts (build entries, install steps) are a vitest project too.
export default defineConfig({ test: { include: ['test/**/*.test.ts'] } });
