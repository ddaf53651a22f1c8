/*
 * Win32 and Winsock errors as libuv error codes, mapped once, in one table (error_table.cc), the
 * way libuv maps them for Node (uv_translate_sys_error, src/win/error.c), so that an error of this
 * addon carries the code and errno that node:fs / node:net report on Windows for the same failure:
 * ERROR_FILE_NOT_FOUND -> UV_ENOENT, ERROR_ACCESS_DENIED -> UV_EPERM, WSAECONNREFUSED ->
 * UV_ECONNREFUSED, ... An error the table does not know is UV_UNKNOWN, as in libuv.
 *
 * Also the names and messages of libuv error codes (uv_err_name / uv_strerror need libuv's
 * symbols, which node.exe's Node-API import library does not have): from uv.h's UV_ERRNO_MAP.
 */
#ifndef PROACTOR_COMMON_WIN_ERROR_TABLE_H
#define PROACTOR_COMMON_WIN_ERROR_TABLE_H

#include <uv.h>

#include <cstdint>

#include "platform.h"

namespace proactor {

/* The libuv error code (negative) of a Win32 error (GetLastError) or a Winsock error
 * (WSAGetLastError; the two share one number space). 0 stays 0. */
int TranslateSystemError(DWORD error);

/* The error of a failed ReadFile / WriteFile: as libuv's fs__read / fs__write, a handle without
 * the access (a write-only file read) is EBADF, as on POSIX, not ERROR_ACCESS_DENIED's EPERM. */
inline int TranslateTransferError(DWORD error) {
  return error == ERROR_ACCESS_DENIED ? UV_EBADF : TranslateSystemError(error);
}

/* The result of a failed call: TranslateSystemError(GetLastError()). */
inline int LastError() { return TranslateSystemError(GetLastError()); }

/* "ENOENT" / "no such file or directory" for a libuv error code; null when it is none. */
const char* ErrorName(int uv_error);
const char* ErrorMessage(int uv_error);

}  // namespace proactor

#endif  // PROACTOR_COMMON_WIN_ERROR_TABLE_H
