#include "socket_calls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <uv.h>
#ifdef __linux__
#include <sys/sendfile.h>
#else
#include <sys/uio.h> /* macOS and FreeBSD declare sendfile in sys/socket.h, with sys/uio.h's sf_hdtr */
#endif

#include "../common/fault_schedule.h"
#include "../common/readiness.h"
#include "../common/socket_address.h"
#include "../common/socket_options.h"

namespace proactor {

namespace {

int64_t Result(int64_t r) {
  if (r >= 0) return r;
  // EWOULDBLOCK may differ from EAGAIN on some platforms: one code for "not now".
  return (errno == EAGAIN || errno == EWOULDBLOCK) ? UV_EAGAIN : -errno;
}

template <typename F>
int64_t Retried(F call) {
  int64_t r;
  do r = call();
  while (r < 0 && errno == EINTR);
  return Result(r);
}

/* What SOCK_NONBLOCK | SOCK_CLOEXEC give where they exist, plus SO_NOSIGPIPE where sends
 * cannot say MSG_NOSIGNAL. On failure the descriptor is closed. */
int64_t Prepare(int64_t fd, bool flags_given) {
  if (fd < 0) return fd;
  const int d = static_cast<int>(fd);
  if (!flags_given) {
    const int fl = fcntl(d, F_GETFL);
    if (fl < 0 || fcntl(d, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(d, F_SETFD, FD_CLOEXEC) < 0) {
      const int err = errno;
      close(d);
      return -err;
    }
  }
#ifdef SO_NOSIGPIPE
  const int on = 1;
  (void)setsockopt(d, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
  return fd;
}

#ifdef MSG_DONTWAIT
constexpr int kDontWait = MSG_DONTWAIT;
#else
constexpr int kDontWait = 0; /* the queue's own sockets are non-blocking anyway */
#endif

}  // namespace

int64_t OpenNonblockingSocket(const Operation& op) {
  const int family = PlatformFamily(op.op_flags);
  const int type = PlatformSocketType(op.mode);
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  return Prepare(Result(socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)), true);
#else
  return Prepare(Result(socket(family, type, 0)), false);
#endif
}

int64_t TrySocketCall(const Operation& op) {
  switch (op.opcode) {
    case PROACTOR_OP_ACCEPT:
    case PROACTOR_OP_ACCEPT_MULTI: {
      struct sockaddr* name = nullptr;
      socklen_t* length = nullptr;
      if (op.address != nullptr) {
        name = reinterpret_cast<struct sockaddr*>(&op.address->storage);
        length = &op.address->length;
      }
      // A connection that went away before it was taken (ECONNABORTED) is skipped and the next
      // one taken, as libuv does: the accept (single or multishot) never ends with it.
      for (;;) {
        if (length != nullptr) *length = sizeof op.address->storage;  // in/out: offered whole each time
#if defined(__linux__) || defined(__FreeBSD__)
        int64_t fd = Prepare(Retried([&] { return accept4(op.fd, name, length, SOCK_NONBLOCK | SOCK_CLOEXEC); }), true);
#else
        int64_t fd = Prepare(Retried([&] { return accept(op.fd, name, length); }), false);
#endif
        if (fd >= 0) fd = AcceptedOrFault(static_cast<int32_t>(fd), op.opcode == PROACTOR_OP_ACCEPT_MULTI);
        if (fd != UV_ECONNABORTED) return fd;
      }
    }
    case PROACTOR_OP_RECV: {
      const size_t len = CutForFault(op);
      return Retried([&] { return recv(op.fd, op.data, len, kDontWait); });
    }
    case PROACTOR_OP_SEND: {
      const size_t len = CutForFault(op);
      return Retried([&] { return send(op.fd, op.data, len, kDontWait | kNoSignal); });
    }
    case PROACTOR_OP_RECVFROM:
      op.address->length = sizeof op.address->storage;
      return Retried([&] {
        return recvfrom(op.fd, op.data, op.len, kDontWait, reinterpret_cast<struct sockaddr*>(&op.address->storage),
                        &op.address->length);
      });
    case PROACTOR_OP_SENDTO:
      return Retried([&] {
        return sendto(op.fd, op.data, op.len, kDontWait | kNoSignal,
                      reinterpret_cast<const struct sockaddr*>(&op.address->storage), op.address->length);
      });
    case PROACTOR_OP_POLL: {
      const uint32_t asked = NativePollEvents(op.op_flags);
      struct pollfd p = {op.fd, static_cast<short>(asked), 0};
      int64_t r = Retried([&] { return poll(&p, 1, 0); });
      if (r < 0) return r;
      if (r == 0 || p.revents == 0) return UV_EAGAIN;
      if (p.revents & POLLNVAL) return UV_EBADF;
      // Only what was asked for, plus ERR and HUP, as Call() and io_uring report.
      const uint32_t events = PortablePollEvents(static_cast<uint32_t>(p.revents) & (asked | POLLERR | POLLHUP));
      if (events == 0) return UV_EAGAIN;
      return events;
    }
    default:
      return UV_EINVAL;
  }
}

int64_t SendfileCanWait(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -errno;
  if ((flags & O_NONBLOCK) == 0) return 0;
#ifndef __linux__
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  if (!S_ISSOCK(st.st_mode)) return 0;
#endif
  return 1;
}

int64_t TrySendfile(const Operation& op, uint32_t done) {
  const uint32_t count = op.len - done;
#if defined(__linux__)
  // With an offset given, the input's own position stays.
  off_t position = static_cast<off_t>(op.offset + done);
  return Retried([&] { return sendfile(op.fd, op.fd_in, &position, count); });
#elif defined(__APPLE__) || defined(__FreeBSD__)
  // The input first, the socket second; the bytes sent come back through a pointer, and with
  // EAGAIN (or EINTR) after a partial transfer. A count of 0 would mean "to the end of the
  // input": never passed (done < op.len). At or past the end of the input: success, 0 bytes.
  const off_t position = static_cast<off_t>(op.offset + done);
  for (;;) {
#ifdef __APPLE__
    off_t sent = count;
    const int r = sendfile(op.fd_in, op.fd, position, &sent, nullptr, 0);
#else
    off_t sent = 0;
    const int r = sendfile(op.fd_in, op.fd, position, count, nullptr, &sent, 0);
#endif
    if (r == 0 || ((errno == EAGAIN || errno == EINTR) && sent > 0)) return sent;
    if (errno != EINTR) return Result(r);
  }
#else
  (void)op;
  (void)count;
  return UV_ENOSYS;
#endif
}

int64_t ReceiveAfterShutdown(const Operation& op) {
#ifdef POLLRDHUP
  struct pollfd p = {op.fd, POLLRDHUP, 0};
  if (poll(&p, 1, 0) == 1 && (p.revents & POLLRDHUP) != 0) {
    if (op.address != nullptr) op.address->length = 0;
    return 0;
  }
#else
  (void)op;
#endif
  return UV_EAGAIN;
}

int64_t StartConnect(const Operation& op) {
  // Not retried on EINTR: an interrupted connect goes on in the background (EALREADY on a
  // retry), so it is treated as in progress.
  const int r = connect(op.fd, reinterpret_cast<const struct sockaddr*>(&op.address->storage), op.address->length);
  // (Interrupted once under way: it completes in the background, ConnectOutcome finds out how.)
  if ((r == 0 || errno == EINPROGRESS) && InjectFault(FaultSite::connect_eintr)) return kConnectInProgress;
  if (r == 0) return 0;
  if (errno == EINPROGRESS || errno == EINTR) return kConnectInProgress;
  return Result(r);
}

int64_t ConnectOutcome(const Operation& op) {
  const int fd = op.fd;
  // A report is a hint (poller.h): a socket not writable yet is still connecting, and its
  // SO_ERROR (0) would say nothing.
  struct pollfd p = {fd, POLLOUT, 0};
  int64_t ready = Retried([&] { return poll(&p, 1, 0); });
  if (ready < 0) return ready;
  if (ready == 0) return UV_EAGAIN;
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) return -errno;
  if (error == EINPROGRESS || error == EALREADY) return UV_EAGAIN;
  if (error != 0) return -error;
  // Connected. Linux leaves the socket in its connecting state until a connect() call sees
  // the connection: that call returns 0, the ones after it EISCONN. Made here, so that a later
  // connect through the queue fails with EISCONN as on io_uring (whose connect waits in the
  // kernel and sees it), instead of succeeding once. Its result says nothing new.
  (void)connect(op.fd, reinterpret_cast<const struct sockaddr*>(&op.address->storage), op.address->length);
  return 0;
}

}  // namespace proactor
