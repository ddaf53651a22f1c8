/*
 * Reading operation resources (packages/aio-core queue: index 2 * slot and 2 * slot + 1 of the
 * resource table) from native code: buffers as pointer + length, buffer lists as IoVecs (iovec,
 * WSABUF on Windows), paths as owned NUL-terminated copies.
 *
 * Pointers returned here stay valid while the JS value is referenced (aio-core keeps it in
 * the resource table until the operation's final completion); see queue_buffers.h for why they do
 * not move. Paths are copied because a string has no stable address.
 */
#ifndef PROACTOR_COMMON_RESOURCE_VIEWS_H
#define PROACTOR_COMMON_RESOURCE_VIEWS_H

#include <node_api.h>
#include "platform.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace proactor {

struct ByteSpan {
  uint8_t* data = nullptr;
  size_t length = 0;
};

/* The bytes of an ArrayBufferView (typed array, Buffer or DataView); false for anything else. */
bool GetByteSpan(napi_env env, napi_value value, ByteSpan* out);

/*
 * Fills iov[0, count) from the JS array `list` of ArrayBufferViews; `total` receives the sum of
 * their lengths. False when `list` is not an array of `count` views, or a view is longer than
 * an IoVec holds (WSABUF: 4 GiB - 1).
 */
bool GetIovecs(napi_env env, napi_value list, uint32_t count, IoVec* iov, size_t* total);

/* Copies a path given as a string (UTF-8) or a Uint8Array / Buffer; false for anything else or
 * when it contains a NUL byte. */
bool CopyPath(napi_env env, napi_value value, std::string* out);

}  // namespace proactor

#endif  // PROACTOR_COMMON_RESOURCE_VIEWS_H
