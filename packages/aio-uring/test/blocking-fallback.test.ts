import { conformance } from '@proactor/aio-conformance/vitest';

// The whole suite again, with the operations run on the addon's blocking thread pool (what a
// kernel lacking the opcodes gets), chains mixing pool and ring members included.
await conformance('./test/fixtures/blocking-backend.mjs', new URL('..', import.meta.url).pathname);
