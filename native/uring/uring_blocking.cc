#include "uring_blocking.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "uring_compat.h"

namespace proactor {

namespace {

const char* Path(uint64_t addr) { return reinterpret_cast<const char*>(addr); }

int64_t Result(int64_t r) { return r < 0 ? -errno : r; }

}  // namespace

int64_t RunBlocking(const io_uring_sqe& q) {
  const auto off = static_cast<int64_t>(q.off);
  const bool at_position = off != -1;
  void* buf = reinterpret_cast<void*>(q.addr);
  const auto* iov = reinterpret_cast<const struct iovec*>(q.addr);
  int64_t r;
  switch (q.opcode) {
    case IORING_OP_NOP:
      return 0;
    case IORING_OP_OPENAT:
      do r = openat(q.fd, Path(q.addr), static_cast<int>(q.open_flags), static_cast<mode_t>(q.len));
      while (r < 0 && errno == EINTR);
      return Result(r);
    case IORING_OP_CLOSE:
      return Result(close(q.fd));  // never retried: the descriptor is gone either way
    case IORING_OP_READ:
      return Result(at_position ? pread(q.fd, buf, q.len, off) : read(q.fd, buf, q.len));
    case IORING_OP_WRITE:
      do r = at_position ? pwrite(q.fd, buf, q.len, off) : write(q.fd, buf, q.len);
      while (r < 0 && errno == EINTR);
      return Result(r);
    case IORING_OP_READV:
      return Result(at_position ? preadv(q.fd, iov, static_cast<int>(q.len), off) : readv(q.fd, iov, static_cast<int>(q.len)));
    case IORING_OP_WRITEV:
      do r = at_position ? pwritev(q.fd, iov, static_cast<int>(q.len), off) : writev(q.fd, iov, static_cast<int>(q.len));
      while (r < 0 && errno == EINTR);
      return Result(r);
    case IORING_OP_FSYNC:
      do r = (q.fsync_flags & IORING_FSYNC_DATASYNC) ? fdatasync(q.fd) : fsync(q.fd);
      while (r < 0 && errno == EINTR);
      return Result(r);
    case IORING_OP_STATX:
      return Result(statx(q.fd, Path(q.addr), static_cast<int>(q.statx_flags), q.len,
                          reinterpret_cast<struct statx*>(q.off)));
    case IORING_OP_UNLINKAT:
      return Result(unlinkat(q.fd, Path(q.addr), static_cast<int>(q.unlink_flags)));
    case IORING_OP_RENAMEAT:
      return Result(renameat(q.fd, Path(q.addr), static_cast<int>(q.len), Path(q.off)));
    case IORING_OP_MKDIRAT:
      return Result(mkdirat(q.fd, Path(q.addr), static_cast<mode_t>(q.len)));
    case PROACTOR_IORING_OP_FTRUNCATE:
      do r = ftruncate(q.fd, off);
      while (r < 0 && errno == EINTR);
      return Result(r);
    default:
      return -EINVAL;
  }
}

}  // namespace proactor
