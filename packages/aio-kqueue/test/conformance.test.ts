import { conformance } from '@proactor/aio-conformance/vitest';

// Resolved from this package, as a user's project would resolve it.
await conformance('@proactor/aio-kqueue', new URL('..', import.meta.url).pathname);
