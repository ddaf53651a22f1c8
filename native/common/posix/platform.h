/*
 * POSIX definitions of the platform types (see ../platform.h).
 */
#ifndef PROACTOR_COMMON_POSIX_PLATFORM_H
#define PROACTOR_COMMON_POSIX_PLATFORM_H

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace proactor {

/* One buffer of readv / writev; the same layout io_uring reads. */
using IoVec = struct iovec;

/* Points `v` at [data, data + length); false when the platform's vector cannot hold the length
 * (never, here: see win/platform.h). */
inline bool SetIoVec(IoVec* v, uint8_t* data, size_t length) {
  v->iov_base = data;
  v->iov_len = length;
  return true;
}
inline uint8_t* IoVecData(const IoVec& v) { return static_cast<uint8_t*>(v.iov_base); }
inline size_t IoVecLength(const IoVec& v) { return v.iov_len; }

/* What a stat call fills: struct statx where the kernel has it (Linux: it carries the birth
 * time, and io_uring's IORING_OP_STATX fills the same record), struct stat elsewhere. */
#ifdef __linux__
#define PROACTOR_HAVE_STATX 1
using StatBuffer = struct statx;
#else
using StatBuffer = struct stat;
#endif

/* A sockaddr the kernel reads or writes, with its length. */
struct SocketAddress {
  struct sockaddr_storage storage;
  socklen_t length;
};

/* open(2) flags of PROACTOR_OP_OPEN: the O_* flags JavaScript passed (Node's fs.constants are
 * the platform's), plus O_CLOEXEC: as libuv does, descriptors are not inherited by children. */
inline int PlatformOpenFlags(uint32_t flags) { return static_cast<int>(flags) | O_CLOEXEC; }

/* RLIMIT_NOFILE as the system reports it now: no descriptor at or above it is open. */
inline long OpenDescriptorLimit() {
  const long limit = sysconf(_SC_OPEN_MAX);
  return limit > 0 ? limit : 1L << 20;
}

}  // namespace proactor

#endif  // PROACTOR_COMMON_POSIX_PLATFORM_H
