import { conformance } from '@proactor/aio-conformance/vitest';

// The whole suite on a second driver of the native engine core (test/fixtures/pool_engine.cc):
// every operation on the blocking pool through Call(), no io_uring at all. Cases needing what
// that driver does not declare (sockets, cancelling a running call, multishot, registration)
// are skipped with that reason.
await conformance('./test/fixtures/pool-backend.mjs', new URL('..', import.meta.url).pathname);
