/**
 * aio-epoll with Linux AIO turned off: direct I/O on its thread pool, as where a seccomp filter
 * blocks io_setup. A module whose default export is the Backend, for variant.js (the A side of the
 * direct-I/O workload's Linux AIO A/B).
 */
import { createBackend } from '@proactor/aio-epoll';

export default createBackend({ linuxAio: false });
