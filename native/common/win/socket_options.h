/*
 * Winsock values of the ABI's socket options, shutdown directions and socket types (see
 * ../socket_options.h). Decode() has checked the ABI values: these cannot fail on them.
 */
#ifndef PROACTOR_COMMON_WIN_SOCKET_OPTIONS_H
#define PROACTOR_COMMON_WIN_SOCKET_OPTIONS_H

#include <cstdint>

#include "platform.h"
#include "proactor/abi.h"

namespace proactor {

/* A PROACTOR_SO_* option as a setsockopt level and name; false for an unknown one. Not here:
 * - REUSEADDR: what it means on POSIX (bind a port that connections in TIME_WAIT still name) is
 *   Windows' default, and Winsock's SO_REUSEADDR means more (a second socket may take a port in
 *   use), which is why libuv never sets it: Call() accepts the option and sets nothing.
 * - REUSEPORT: Windows has none; false, as on other systems without it. */
inline bool PlatformSocketOption(uint32_t option, int* level, int* name) {
  switch (option) {
    case PROACTOR_SO_NODELAY: *level = IPPROTO_TCP; *name = TCP_NODELAY; return true;
    case PROACTOR_SO_KEEPALIVE: *level = SOL_SOCKET; *name = SO_KEEPALIVE; return true;
    default: return false;
  }
}

/* The shutdown() direction of a PROACTOR_SHUT_* value. */
inline int PlatformShutdown(uint32_t how) {
  return how == PROACTOR_SHUT_RD ? SD_RECEIVE : how == PROACTOR_SHUT_WR ? SD_SEND : SD_BOTH;
}

/* The socket() type of a PROACTOR_SOCK_* value. */
inline int PlatformSocketType(uint32_t type) { return type == PROACTOR_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM; }

/* Whether socket `s` has a local address (getsockname fails with WSAEINVAL until it has). */
inline bool IsBound(SOCKET s) {
  SOCKADDR_STORAGE local;
  int length = sizeof local;
  return getsockname(s, reinterpret_cast<sockaddr*>(&local), &length) == 0;
}

/* Binds `s` to the wildcard address of `family` at a free port, as POSIX's connect(2) and
 * listen(2) bind an unbound socket: 0, or the Winsock error (WSAGetLastError). */
inline int BindWildcard(SOCKET s, int family) {
  SOCKADDR_STORAGE local = {};
  local.ss_family = static_cast<ADDRESS_FAMILY>(family);
  const int length = family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  return bind(s, reinterpret_cast<sockaddr*>(&local), length) == 0 ? 0 : WSAGetLastError();
}

/* Winsock raises no SIGPIPE: no flag needed. */
constexpr int kNoSignal = 0;

}  // namespace proactor

#endif  // PROACTOR_COMMON_WIN_SOCKET_OPTIONS_H
