/*
 * The platform's types behind the portable pieces: IoVec (one buffer of a vectored call),
 * StatBuffer (what a stat call fills), SocketAddress (a sockaddr with its length).
 *
 * POSIX types live in posix/, Windows ones in win/ (WSABUF, a stat record filled from the file's
 * information, SOCKADDR_STORAGE with an int length); code outside those folders uses only these
 * names (and SetIoVec to fill an IoVec).
 */
#ifndef PROACTOR_COMMON_PLATFORM_H
#define PROACTOR_COMMON_PLATFORM_H

#ifdef _WIN32
#include "win/platform.h"
#else
#include "posix/platform.h"
#endif

#endif  // PROACTOR_COMMON_PLATFORM_H
