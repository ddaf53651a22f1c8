import { conformance } from '@proactor/aio-conformance/vitest';

// The whole suite again on SQPOLL rings (createBackend({ sqpoll })): submission without
// io_uring_enter unless the kernel thread sleeps, credentials after process.setuid() carried by
// a registered personality, registered buffers and files on an SQPOLL ring.
await conformance('./test/fixtures/sqpoll-backend.mjs', new URL('..', import.meta.url).pathname);
