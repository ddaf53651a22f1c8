/*
 * Socket options, shutdown directions and socket types of the ABI (PROACTOR_SO_*,
 * PROACTOR_SHUT_*, PROACTOR_SOCK_*) and their platform values. The portable checks are here;
 * the platform mapping is in posix/socket_options.h and win/socket_options.h (Winsock's).
 */
#ifndef PROACTOR_COMMON_SOCKET_OPTIONS_H
#define PROACTOR_COMMON_SOCKET_OPTIONS_H

#include <cstdint>

#include "proactor/abi.h"

namespace proactor {

/* Whether `option` is a PROACTOR_SO_* value. */
inline bool IsSocketOption(uint32_t option) {
  return option == PROACTOR_SO_REUSEADDR || option == PROACTOR_SO_REUSEPORT || option == PROACTOR_SO_NODELAY ||
         option == PROACTOR_SO_KEEPALIVE;
}

}  // namespace proactor

#ifdef _WIN32
#include "win/socket_options.h"
#else
#include "posix/socket_options.h"
#endif

#endif  // PROACTOR_COMMON_SOCKET_OPTIONS_H
