/*
 * The reactor's socket calls: each socket operation that may wait, made without blocking
 * (UV_EAGAIN when it would block), for the engine to retry once the poller reports the
 * descriptor ready. The blocking forms, for every engine's pool, are Call()'s
 * (../common/posix/calls.cc); these differ where the reactor needs them to: non-blocking
 * descriptors from socket and accept, MSG_DONTWAIT on transfers (a descriptor the queue did not
 * create may be blocking), a connect that completes in two steps.
 *
 * Results are >= 0 or a negative libuv error, as Call()'s.
 */
#ifndef PROACTOR_REACTOR_SOCKET_CALLS_H
#define PROACTOR_REACTOR_SOCKET_CALLS_H

#include <errno.h>

#include <cstdint>

#include "../common/operation.h"

namespace proactor {

/* PROACTOR_OP_SOCKET: a non-blocking, close-on-exec socket (SIGPIPE-free where the platform
 * sets that per socket). */
int64_t OpenNonblockingSocket(const Operation& op);

/*
 * One non-blocking attempt at accept (and accept_multi), recv, send, recvfrom, sendto or poll
 * (a poll(2) of the descriptor with no timeout: 0 events is UV_EAGAIN). UV_EAGAIN: not now.
 * Accepted descriptors are non-blocking and close-on-exec.
 */
int64_t TrySocketCall(const Operation& op);

/*
 * sendfile on the reactor: whether the output `fd` can be written by sendfile(2) without
 * blocking the JS thread: 1 (a non-blocking descriptor: tried at once, and again when writable;
 * macOS and FreeBSD: a non-blocking socket, their sendfile's only output), 0 (a blocking
 * descriptor or a regular file: the call runs on the pool), or an error (UV_EBADF).
 */
int64_t SendfileCanWait(int fd);
/* One non-blocking sendfile of the bytes [op.offset + done, op.offset + op.len) of op.fd_in to
 * op.fd (done < op.len): the bytes moved (> 0), 0 at the end of the input, UV_EAGAIN when the
 * output took nothing, or an error. A partial transfer is the count (macOS and FreeBSD report it
 * with EAGAIN). The input is read from the page cache on this thread: an uncached file blocks
 * for its disk reads, as sendfile(2) does for nginx without its thread pool. */
int64_t TrySendfile(const Operation& op, uint32_t done);

/* StartConnect's "in progress" (libuv has no UV_EINPROGRESS). */
constexpr int64_t kConnectInProgress = -EINPROGRESS;

/* connect(2), first step: 0 (connected now), kConnectInProgress (completes when writable: then
 * ConnectOutcome), UV_EAGAIN (a unix socket's full backlog: try again when writable), or an error. */
int64_t StartConnect(const Operation& op);
/* The outcome of a connect in progress whose socket became writable: 0, UV_EAGAIN (not yet:
 * still in progress), or its error (SO_ERROR). */ 
int64_t ConnectOutcome(const Operation& op);

/* A receive that would block on a descriptor reported readable: 0 (end of stream, address
 * length 0) when the receive side was shut down, else UV_EAGAIN. Linux lets shutdown(SHUT_RD)
 * of a datagram socket end a blocked receive with 0, but a non-blocking receive still says
 * EAGAIN: the blocking pool and io_uring see 0, so the reactor asks poll(2) for POLLRDHUP. */
int64_t ReceiveAfterShutdown(const Operation& op);

}  // namespace proactor

#endif  // PROACTOR_REACTOR_SOCKET_CALLS_H
