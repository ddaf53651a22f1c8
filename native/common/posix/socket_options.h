/*
 * POSIX values of the ABI's socket options, shutdown directions and socket types (see
 * ../socket_options.h). Decode() has checked the ABI values: these cannot fail on them.
 */
#ifndef PROACTOR_COMMON_POSIX_SOCKET_OPTIONS_H
#define PROACTOR_COMMON_POSIX_SOCKET_OPTIONS_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdint>

#include "proactor/abi.h"

namespace proactor {

/* A PROACTOR_SO_* option as a setsockopt level and name; false for an unknown one. */
inline bool PlatformSocketOption(uint32_t option, int* level, int* name) {
  switch (option) {
    case PROACTOR_SO_REUSEADDR: *level = SOL_SOCKET; *name = SO_REUSEADDR; return true;
#ifdef SO_REUSEPORT
    case PROACTOR_SO_REUSEPORT: *level = SOL_SOCKET; *name = SO_REUSEPORT; return true;
#endif
    case PROACTOR_SO_NODELAY: *level = IPPROTO_TCP; *name = TCP_NODELAY; return true;
    case PROACTOR_SO_KEEPALIVE: *level = SOL_SOCKET; *name = SO_KEEPALIVE; return true;
    default: return false;
  }
}

/* The shutdown(2) direction of a PROACTOR_SHUT_* value. */
inline int PlatformShutdown(uint32_t how) {
  return how == PROACTOR_SHUT_RD ? SHUT_RD : how == PROACTOR_SHUT_WR ? SHUT_WR : SHUT_RDWR;
}

/* The socket(2) type of a PROACTOR_SOCK_* value. */
inline int PlatformSocketType(uint32_t type) { return type == PROACTOR_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM; }

/* Flags that keep a peer that went away from raising SIGPIPE (EPIPE instead). */
#ifdef MSG_NOSIGNAL
constexpr int kNoSignal = MSG_NOSIGNAL;
#else
constexpr int kNoSignal = 0; /* macOS and the BSDs: SO_NOSIGPIPE on the socket instead */
#endif

}  // namespace proactor

#endif  // PROACTOR_COMMON_POSIX_SOCKET_OPTIONS_H
