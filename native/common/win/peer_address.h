/*
 * PeerAddress on Windows (see ../socket_address.h): getpeername on the socket behind the
 * descriptor (handle_table.h).
 */
#ifndef PROACTOR_COMMON_WIN_PEER_ADDRESS_H
#define PROACTOR_COMMON_WIN_PEER_ADDRESS_H

#include <cstring>

#include "handle_table.h"
#include "platform.h"

namespace proactor {

/* The peer of connected socket `fd` (an accepted connection); length 0 (no address: family
 * PROACTOR_AF_NONE once encoded) when the system cannot say. */
inline void PeerAddress(int fd, SocketAddress* out) {
  std::memset(&out->storage, 0, sizeof out->storage);
  out->length = sizeof out->storage;
  HandleEntry entry;
  if (!HandleTable::Process().Get(fd, &entry) || entry.kind != HandleEntry::Kind::Socket ||
      getpeername(entry.socket, reinterpret_cast<struct sockaddr*>(&out->storage), &out->length) != 0) {
    out->length = 0;
  }
}

}  // namespace proactor

#endif  // PROACTOR_COMMON_WIN_PEER_ADDRESS_H
