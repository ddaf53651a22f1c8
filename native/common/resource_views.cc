#include "resource_views.h"

#include <cstring>

namespace proactor {

namespace {

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      return 8;
    default:
      // Newer element types (Float16Array): ask the engine for bytes per element instead.
      return 0;
  }
}

}  // namespace

bool GetByteSpan(napi_env env, napi_value value, ByteSpan* out) {
  bool is_typedarray = false;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok) return false;
  if (is_typedarray) {
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    // Asking for `data` makes V8 move an on-heap typed array's contents off the heap first,
    // so the pointer stays valid (Node allocates typed arrays off-heap anyway).
    if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok) return false;
    size_t element = ElementSize(type);
    if (element == 0) {
      napi_value buffer;
      size_t offset = 0;
      if (napi_get_typedarray_info(env, value, &type, &length, &data, &buffer, &offset) != napi_ok) return false;
      napi_value key, bytes;
      double byte_length = 0;
      if (napi_create_string_utf8(env, "byteLength", NAPI_AUTO_LENGTH, &key) != napi_ok ||
          napi_get_property(env, value, key, &bytes) != napi_ok ||
          napi_get_value_double(env, bytes, &byte_length) != napi_ok) {
        return false;
      }
      out->data = static_cast<uint8_t*>(data);
      out->length = static_cast<size_t>(byte_length);
      return true;
    }
    out->data = static_cast<uint8_t*>(data);
    out->length = length * element;
    return true;
  }
  bool is_dataview = false;
  if (napi_is_dataview(env, value, &is_dataview) != napi_ok || !is_dataview) return false;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_dataview_info(env, value, &length, &data, nullptr, nullptr) != napi_ok) return false;
  out->data = static_cast<uint8_t*>(data);
  out->length = length;
  return true;
}

bool GetIovecs(napi_env env, napi_value list, uint32_t count, IoVec* iov, size_t* total) {
  bool is_array = false;
  if (napi_is_array(env, list, &is_array) != napi_ok || !is_array) return false;
  uint32_t length = 0;
  if (napi_get_array_length(env, list, &length) != napi_ok || length != count) return false;
  size_t sum = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    if (napi_get_element(env, list, i, &element) != napi_ok) return false;
    ByteSpan span;
    if (!GetByteSpan(env, element, &span)) return false;
    if (!SetIoVec(&iov[i], span.data, span.length)) return false;
    sum += span.length;
  }
  *total = sum;
  return true;
}

bool CopyPath(napi_env env, napi_value value, std::string* out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_string) {
    size_t length = 0;
    if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) return false;
    out->resize(length);
    size_t copied = 0;
    if (napi_get_value_string_utf8(env, value, out->data(), length + 1, &copied) != napi_ok) return false;
    out->resize(copied);
  } else {
    ByteSpan span;
    if (!GetByteSpan(env, value, &span)) return false;
    out->assign(reinterpret_cast<const char*>(span.data), span.length);
  }
  return std::memchr(out->data(), '\0', out->size()) == nullptr;
}

}  // namespace proactor
