/*
 * PeerAddress on POSIX (see ../socket_address.h): getpeername(2) on the descriptor.
 */
#ifndef PROACTOR_COMMON_POSIX_PEER_ADDRESS_H
#define PROACTOR_COMMON_POSIX_PEER_ADDRESS_H

#include <sys/socket.h>

#include <cstring>

#include "platform.h"

namespace proactor {

/* The peer of connected socket `fd` (an accepted connection); length 0 (no address: family
 * PROACTOR_AF_NONE once encoded) when the system cannot say. */
inline void PeerAddress(int fd, SocketAddress* out) {
  std::memset(&out->storage, 0, sizeof out->storage);
  out->length = sizeof out->storage;
  if (getpeername(fd, reinterpret_cast<struct sockaddr*>(&out->storage), &out->length) < 0) out->length = 0;
}

}  // namespace proactor

#endif  // PROACTOR_COMMON_POSIX_PEER_ADDRESS_H
