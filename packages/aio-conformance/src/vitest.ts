/// <reference types="node" preserve="true" />
/**
 * The vitest adapter. In a backend package's test file:
 *
 *   import { conformance } from '@proactor/aio-conformance/vitest';
 *   await conformance('@proactor/aio-node');
 */
import { describe, it } from 'vitest';
import { loadTarget } from './runner.js';
import { registerConformance } from './suite.js';

export async function conformance(backend: string, fromDir?: string): Promise<void> {
  const target = await loadTarget(backend, fromDir);
  registerConformance(
    {
      describe,
      it: (name, body, timeoutMs) => it(name, body, timeoutMs),
      skip: (name, reason) => it.skip(`${name} [skipped: ${reason}]`, () => {}),
    },
    target,
  );
}
