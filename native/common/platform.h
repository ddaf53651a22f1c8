/*
 * The platform's types behind the portable pieces: IoVec (one buffer of a vectored call),
 * StatBuffer (what a stat call fills), SocketAddress (a sockaddr with its length).
 *
 * POSIX types live in posix/, Windows ones will live in win/ (WSABUF, FILE_* information,
 * SOCKADDR_STORAGE with an int length) when the IOCP engine brings them; code outside those
 * folders uses only these names.
 */
#ifndef PROACTOR_COMMON_PLATFORM_H
#define PROACTOR_COMMON_PLATFORM_H

#ifdef _WIN32
#error "the Windows half of native/common (win/) comes with the IOCP engine"
#else
#include "posix/platform.h"
#endif

#endif  // PROACTOR_COMMON_PLATFORM_H
