/*
 * Windows definitions of the platform types (see ../platform.h).
 *
 * Winsock's headers come before windows.h (winsock2.h replaces what windows.h would pull in of
 * the old winsock.h); addon.cmake defines WIN32_LEAN_AND_MEAN and NOMINMAX for every source.
 */
#ifndef PROACTOR_COMMON_WIN_PLATFORM_H
#define PROACTOR_COMMON_WIN_PLATFORM_H

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <cstddef>
#include <cstdint>

namespace proactor {

/* One buffer of a vectored call: WSABUF, which WSASend / WSARecv take as they are. Its length is
 * a ULONG: SetIoVec refuses a longer buffer. */
using IoVec = WSABUF;

inline bool SetIoVec(IoVec* v, uint8_t* data, size_t length) {
  if (length > ULONG_MAX) return false;
  v->buf = reinterpret_cast<CHAR*>(data);
  v->len = static_cast<ULONG>(length);
  return true;
}
inline uint8_t* IoVecData(const IoVec& v) { return reinterpret_cast<uint8_t*>(v.buf); }
inline size_t IoVecLength(const IoVec& v) { return v.len; }

/* What a stat call fills: Windows has no struct stat of its own that carries every field Node
 * reports, so the pool's stat call (win/calls.cc) fills these from the file's information the
 * way libuv fills uv_stat_t (src/win/fs.c, fs__stat_handle). Times are since the Unix epoch. */
struct StatTime {
  int64_t sec;
  int64_t nsec;
};
struct StatBuffer {
  uint64_t dev;
  uint64_t mode;
  uint64_t nlink;
  uint64_t uid;
  uint64_t gid;
  uint64_t rdev;
  uint64_t blksize;
  uint64_t ino;
  uint64_t size;
  uint64_t blocks;
  StatTime atime;
  StatTime mtime;
  StatTime ctime;
  StatTime birthtime;
};

/* A sockaddr Winsock reads or writes, with its length (an int there). */
struct SocketAddress {
  SOCKADDR_STORAGE storage;
  int length;
};

/* Descriptors are indexes into the handle table (win/handle_table.h), which has no fixed limit:
 * the engine core sizes its per-descriptor counts by what it sees. */
inline long OpenDescriptorLimit() { return 1L << 24; }

}  // namespace proactor

#endif  // PROACTOR_COMMON_WIN_PLATFORM_H
