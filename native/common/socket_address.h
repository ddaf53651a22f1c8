/*
 * Converting the portable address record of the ABI (struct proactor_address, abi.h) to and
 * from the platform's sockaddr_in / sockaddr_in6 / sockaddr_un (POSIX, and Winsock's, whose
 * sockaddr_un is afunix.h's). PeerAddress is the platform's (posix/ and win/peer_address.h).
 *
 * The record is read and written with memcpy: the address area is a JS Uint8Array whose
 * records need not be aligned for the struct.
 *
 * - Ports: host order in the record, network order in the sockaddr.
 * - IPv6: flowinfo is a number in the record (host order), network order in sin6_flowinfo;
 *   scope_id is host order in both.
 * - Unix: path_len bytes of path, no terminating NUL, at most PROACTOR_ADDRESS_PATH_MAX to the
 *   kernel (room for the NUL in sun_path), up to sizeof(sun_path) from it. From
 *   the kernel: a pathname is cut at its first NUL (Linux may count the terminator in the
 *   length); an unnamed socket (length sizeof(sa_family_t)) gives path_len 0; an abstract one
 *   (sun_path[0] == 0) keeps its bytes as they are.
 */
#ifndef PROACTOR_COMMON_SOCKET_ADDRESS_H
#define PROACTOR_COMMON_SOCKET_ADDRESS_H

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "platform.h"
#include "proactor/abi.h"

#ifdef _WIN32
#include <afunix.h> /* sockaddr_un (Windows 10 1803); winsock2.h came with platform.h */
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#endif

namespace proactor {

/* The platform family of a PROACTOR_AF_* value, or -1. */
inline int PlatformFamily(uint32_t family) {
  switch (family) {
    case PROACTOR_AF_UNIX: return AF_UNIX;
    case PROACTOR_AF_INET: return AF_INET;
    case PROACTOR_AF_INET6: return AF_INET6;
    default: return -1;
  }
}

/* Reads the record at `record` into `out`. 0, or -EINVAL for a record that is no address
 * (family PROACTOR_AF_NONE or unknown, a unix path that is empty or too long). */
inline int DecodeAddressRecord(const uint8_t* record, SocketAddress* out) {
  proactor_address a;
  std::memcpy(&a, record, sizeof a);
  std::memset(&out->storage, 0, sizeof out->storage);
  switch (a.family) {
    case PROACTOR_AF_INET: {
      auto* sin = reinterpret_cast<struct sockaddr_in*>(&out->storage);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(a.port);
      std::memcpy(&sin->sin_addr, a.addr, 4);
      out->length = sizeof(struct sockaddr_in);
      return 0;
    }
    case PROACTOR_AF_INET6: {
      auto* sin6 = reinterpret_cast<struct sockaddr_in6*>(&out->storage);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(a.port);
      sin6->sin6_flowinfo = htonl(a.flowinfo);
      sin6->sin6_scope_id = a.scope_id;
      std::memcpy(&sin6->sin6_addr, a.addr, 16);
      out->length = sizeof(struct sockaddr_in6);
      return 0;
    }
    case PROACTOR_AF_UNIX: {
      auto* un = reinterpret_cast<struct sockaddr_un*>(&out->storage);
      static_assert(PROACTOR_ADDRESS_PATH_MAX < sizeof un->sun_path, "room for the terminating NUL");
      if (a.path_len == 0 || a.path_len > PROACTOR_ADDRESS_PATH_MAX) return UV_EINVAL;
      un->sun_family = AF_UNIX;
      std::memcpy(un->sun_path, a.path, a.path_len);
      un->sun_path[a.path_len] = '\0';
      out->length = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + a.path_len + 1);
      return 0;
    }
    default:
      return UV_EINVAL;
  }
}

/* Writes `length` bytes of sockaddr at `in` as the record at `record`; an unknown family (or a
 * length too short for its family) gives family PROACTOR_AF_NONE. */
inline void EncodeAddressRecord(const struct sockaddr_storage& in, socklen_t length, uint8_t* record) {
  proactor_address a;
  std::memset(&a, 0, sizeof a);
  // socklen_t is unsigned on POSIX and an int in Winsock, which never reports a negative length.
  size_t size = static_cast<size_t>(length);
  if (size > sizeof in) size = sizeof in;
  const size_t family_end = offsetof(struct sockaddr_storage, ss_family) + sizeof in.ss_family;
  const auto family = size >= family_end ? in.ss_family : static_cast<decltype(in.ss_family)>(AF_UNSPEC);
  if (family == AF_INET && size >= sizeof(struct sockaddr_in)) {
    struct sockaddr_in sin;
    std::memcpy(&sin, &in, sizeof sin);
    a.family = PROACTOR_AF_INET;
    a.port = ntohs(sin.sin_port);
    std::memcpy(a.addr, &sin.sin_addr, 4);
  } else if (family == AF_INET6 && size >= sizeof(struct sockaddr_in6)) {
    struct sockaddr_in6 sin6;
    std::memcpy(&sin6, &in, sizeof sin6);
    a.family = PROACTOR_AF_INET6;
    a.port = ntohs(sin6.sin6_port);
    a.flowinfo = ntohl(sin6.sin6_flowinfo);
    a.scope_id = sin6.sin6_scope_id;
    std::memcpy(a.addr, &sin6.sin6_addr, 16);
  } else if (family == AF_UNIX) {
    struct sockaddr_un un;
    std::memset(&un, 0, sizeof un);
    std::memcpy(&un, &in, size < sizeof un ? size : sizeof un);
    const size_t offset = offsetof(struct sockaddr_un, sun_path);
    size_t n = size > offset ? size - offset : 0;
    if (n > sizeof un.sun_path) n = sizeof un.sun_path;
    // A pathname ends at its first NUL; an abstract name (leading NUL) is kept whole.
    if (n > 0 && un.sun_path[0] != '\0') n = strnlen(un.sun_path, n);
    static_assert(sizeof un.sun_path <= sizeof a.path, "any sun_path fits the record whole");
    a.family = PROACTOR_AF_UNIX;
    a.path_len = static_cast<uint16_t>(n);
    std::memcpy(a.path, un.sun_path, n);
  }
  std::memcpy(record, &a, sizeof a);
}

}  // namespace proactor

/* PeerAddress(fd, out): the peer of a connected socket (an accepted connection). */
#ifdef _WIN32
#include "win/peer_address.h"
#else
#include "posix/peer_address.h"
#endif

#endif  // PROACTOR_COMMON_SOCKET_ADDRESS_H
