/*
 * Call(): each operation as the plain POSIX system call (see ../operation.h). What a blocking
 * pool runs, on any engine; what an engine runs at launch for calls that never wait.
 *
 * Calls that may be interrupted by a signal before doing anything are retried on EINTR; close
 * never is (the descriptor is gone either way), and neither are reads (a partial result is a
 * result). Descriptors are created close-on-exec, as libuv does.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif
#include <uv.h>

#include <algorithm>

#include "../fault_schedule.h"
#include "../operation.h"
#include "../stat_record.h"
#include "../readiness.h"
#include "../socket_address.h"
#include "../socket_options.h"

namespace proactor {

namespace {

/* libuv's error codes on POSIX are negated errno values (uv-errno.h). */
int64_t Result(int64_t r) { return r < 0 ? -errno : r; }

template <typename F>
int64_t Retried(F call) {
  int64_t r;
  do r = call();
  while (r < 0 && errno == EINTR);
  return Result(r);
}

#ifndef SOCK_CLOEXEC
/* Sets FD_CLOEXEC on a descriptor made by a call without a close-on-exec flag. */
int64_t CloseOnExec(int64_t fd) {
  if (fd >= 0) (void)fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  return fd;
}
#endif

int64_t Stat(const Operation& op) {
#ifdef PROACTOR_HAVE_STATX
  if (op.opcode == PROACTOR_OP_FSTAT) {
    return Result(statx(op.fd, "", AT_STATX_SYNC_AS_STAT | AT_EMPTY_PATH, kStatxMask, op.stat));
  }
  const int follow = (op.op_flags & PROACTOR_STAT_F_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0;
  return Result(statx(AT_FDCWD, op.path, AT_STATX_SYNC_AS_STAT | follow, kStatxMask, op.stat));
#else
  if (op.opcode == PROACTOR_OP_FSTAT) return Result(fstat(op.fd, op.stat));
  return Result((op.op_flags & PROACTOR_STAT_F_NOFOLLOW) ? lstat(op.path, op.stat) : stat(op.path, op.stat));
#endif
}

int64_t Accept(const Operation& op) {
  auto* name = reinterpret_cast<struct sockaddr*>(&op.address->storage);
#ifdef SOCK_CLOEXEC
  return Retried([&] { return accept4(op.fd, name, &op.address->length, SOCK_CLOEXEC); });
#else
  return CloseOnExec(Retried([&] { return accept(op.fd, name, &op.address->length); }));
#endif
}

#ifndef __linux__
/*
 * sendfile on the pool where sendfile(2) writes to sockets only (macOS, FreeBSD), for every
 * output: the reactor sends to its non-blocking sockets by itself (native/reactor), so what
 * reaches the pool is a regular file or a blocking descriptor. Reads and writes through a
 * buffer, as aio-node does, with Linux's results: an output opened for appending fails with
 * EINVAL; an error after some bytes went out gives their count.
 */
int64_t CopyRange(const Operation& op) {
  const int flags = fcntl(op.fd, F_GETFL);
  if (flags < 0) return -errno;
  if ((flags & O_APPEND) != 0) return UV_EINVAL;
  char buffer[64 * 1024];
  uint32_t sent = 0;
  while (sent < op.len) {
    const size_t want = std::min<size_t>(sizeof buffer, op.len - sent);
    const int64_t n = Retried([&] { return pread(op.fd_in, buffer, want, static_cast<off_t>(op.offset + sent)); });
    if (n < 0) return sent > 0 ? sent : n;
    if (n == 0) break;  // the end of the input
    for (int64_t off = 0; off < n;) {
      const int64_t w = Retried([&] { return write(op.fd, buffer + off, static_cast<size_t>(n - off)); });
      if (w < 0) return sent + off > 0 ? sent + off : w;
      off += w;
    }
    sent += static_cast<uint32_t>(n);
  }
  return sent;
}
#endif

int64_t Poll(const Operation& op) {
  struct pollfd p = {op.fd, static_cast<short>(NativePollEvents(op.op_flags)), 0};
  int64_t r = Retried([&] { return poll(&p, 1, -1); });
  if (r < 0) return r;
  // Only what was asked for, plus ERR and HUP, which poll(2) always reports.
  return PortablePollEvents(static_cast<uint32_t>(p.revents) & (NativePollEvents(op.op_flags) | POLLERR | POLLHUP));
}

}  // namespace

bool IsSocketDescriptor(int fd) {
#ifdef PROACTOR_HAVE_STATX
  struct statx st;
  return statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &st) == 0 && S_ISSOCK(st.stx_mode);
#else
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
#endif
}

bool ContinuesShortTransfer(const Operation& op, uint32_t moved) {
  // (statx where there is one: glibc's fstat symbol is 2.33, newer than the addon's floor.)
#ifdef PROACTOR_HAVE_STATX
  struct statx st;
  if (statx(op.fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, &st) != 0) return false;
  const mode_t mode = st.stx_mode;
  const off_t size = static_cast<off_t>(st.stx_size);
#else
  struct stat st;
  if (fstat(op.fd, &st) != 0) return false;
  const mode_t mode = st.st_mode;
  const off_t size = st.st_size;
#endif
  if (S_ISBLK(mode)) return true;
  if (!S_ISREG(mode)) return false;
  if (op.opcode != PROACTOR_OP_READ && op.opcode != PROACTOR_OP_READV) return true;
  // A read that reached the end of the file is complete: no second read to learn that.
  const off_t end = op.offset >= 0 ? static_cast<off_t>(op.offset) + moved : lseek(op.fd, 0, SEEK_CUR);
  return end >= 0 && end < size;
}

#ifdef PROACTOR_FAULTS
int32_t AcceptedOrFault(int32_t fd, bool multishot) {
  int32_t error = 0;
  if (InjectFault(FaultSite::accept_connaborted)) {
    error = UV_ECONNABORTED;
  } else if (!multishot && InjectFault(FaultSite::accept_emfile)) {
    error = UV_EMFILE;
  } else if (!multishot && InjectFault(FaultSite::accept_enfile)) {
    error = UV_ENFILE;
  }
  if (error == 0) return fd;
  close(fd);  // the peer sees its connection closed, as when the kernel gave up on it
  return error;
}
#endif

int64_t Call(const Operation& op) {
  const bool at_position = op.offset != -1;
  switch (op.opcode) {
    case PROACTOR_OP_NOP:
      return 0;
    case PROACTOR_OP_OPEN:
      return Retried([&] { return openat(AT_FDCWD, op.path, PlatformOpenFlags(op.op_flags), op.mode); });
    case PROACTOR_OP_CLOSE:
      return Result(close(op.fd));
    case PROACTOR_OP_READ: {
      const size_t len = CutForFault(op);
      return Result(at_position ? pread(op.fd, op.data, len, op.offset) : read(op.fd, op.data, len));
    }
    case PROACTOR_OP_WRITE: {
      const size_t len = CutForFault(op);
      return Retried([&] { return at_position ? pwrite(op.fd, op.data, len, op.offset) : write(op.fd, op.data, len); });
    }
    case PROACTOR_OP_READV: {
      const int n = static_cast<int>(CutVectorsForFault(op));
      return Result(at_position ? preadv(op.fd, op.iov, n, op.offset) : readv(op.fd, op.iov, n));
    }
    case PROACTOR_OP_WRITEV: {
      const int n = static_cast<int>(CutVectorsForFault(op));
      return Retried([&] { return at_position ? pwritev(op.fd, op.iov, n, op.offset) : writev(op.fd, op.iov, n); });
    }
    case PROACTOR_OP_FSYNC:
      return Retried([&] { return fsync(op.fd); });
    case PROACTOR_OP_FDATASYNC:
#ifdef __APPLE__
      return Retried([&] { return fsync(op.fd); });  // no fdatasync(2)
#else
      return Retried([&] { return fdatasync(op.fd); });
#endif
    case PROACTOR_OP_STAT:
    case PROACTOR_OP_FSTAT:
      return Stat(op);
    case PROACTOR_OP_UNLINK:
      return Result(unlinkat(AT_FDCWD, op.path, (op.op_flags & PROACTOR_UNLINK_F_DIR) ? AT_REMOVEDIR : 0));
    case PROACTOR_OP_RENAME:
      return Result(renameat(AT_FDCWD, op.path, AT_FDCWD, op.path2));
    case PROACTOR_OP_MKDIR:
      return Result(mkdirat(AT_FDCWD, op.path, static_cast<mode_t>(op.mode)));
    case PROACTOR_OP_FTRUNCATE:
      return Retried([&] { return ftruncate(op.fd, op.offset); });
    case PROACTOR_OP_SOCKET: {
      const int family = PlatformFamily(op.op_flags);
      const int type = PlatformSocketType(op.mode);
#ifdef SOCK_CLOEXEC
      return Result(socket(family, type | SOCK_CLOEXEC, 0));
#else
      return CloseOnExec(Result(socket(family, type, 0)));
#endif
    }
    case PROACTOR_OP_BIND:
      return Result(bind(op.fd, reinterpret_cast<const struct sockaddr*>(&op.address->storage), op.address->length));
    case PROACTOR_OP_LISTEN:
      return Result(listen(op.fd, static_cast<int>(op.len)));
    case PROACTOR_OP_ACCEPT: {
      const int64_t fd = Accept(op);
      return fd >= 0 ? AcceptedOrFault(static_cast<int32_t>(fd), false) : fd;
    }
    case PROACTOR_OP_CONNECT:
      // Not retried: an interrupted connect goes on in the background (EALREADY on a retry).
      return Result(connect(op.fd, reinterpret_cast<const struct sockaddr*>(&op.address->storage),
                            op.address->length));
    case PROACTOR_OP_RECV: {
      const size_t len = CutForFault(op);
      return Retried([&] { return recv(op.fd, op.data, len, 0); });
    }
    case PROACTOR_OP_SEND: {
      const size_t len = CutForFault(op);
      return Retried([&] { return send(op.fd, op.data, len, kNoSignal); });
    }
    case PROACTOR_OP_SHUTDOWN:
      return Result(shutdown(op.fd, PlatformShutdown(op.op_flags)));
    case PROACTOR_OP_SETSOCKOPT: {
      int level = 0;
      int name = 0;
      if (!PlatformSocketOption(op.op_flags, &level, &name)) return UV_ENOTSUP;
      const int value = static_cast<int>(op.len);
      return Result(setsockopt(op.fd, level, name, &value, sizeof value));
    }
    case PROACTOR_OP_GETSOCKNAME:
      return Result(getsockname(op.fd, reinterpret_cast<struct sockaddr*>(&op.address->storage), &op.address->length));
    case PROACTOR_OP_RECVFROM:
      return Retried([&] {
        return recvfrom(op.fd, op.data, op.len, 0, reinterpret_cast<struct sockaddr*>(&op.address->storage),
                        &op.address->length);
      });
    case PROACTOR_OP_SENDTO:
      return Retried([&] {
        return sendto(op.fd, op.data, op.len, kNoSignal, reinterpret_cast<const struct sockaddr*>(&op.address->storage),
                      op.address->length);
      });
    case PROACTOR_OP_POLL:
      return Poll(op);
    case PROACTOR_OP_SENDFILE: {
#ifdef __linux__
      // Linux moves the bytes inside the kernel to a socket or a regular file. With an offset
      // given, the input's own position stays; an interrupted call that sent nothing is retried.
      off_t position = static_cast<off_t>(op.offset);
      return Retried([&] { return sendfile(op.fd, op.fd_in, &position, op.len); });
#else
      return CopyRange(op);
#endif
    }
    default:
      // Timeouts are timers and multishot operations streams: the engine's, not one call.
      return UV_ENOSYS;
  }
}

}  // namespace proactor
