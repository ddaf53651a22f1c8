/*
 * Errors the addons throw into JavaScript. Every one carries a `code`.
 * SystemError: a failed system call, shaped like Node's: code ('EPERM'), errno (negative, as Node
 * reports it) and syscall. Used where native setup fails before any operation exists.
 * CodedError: misuse of an engine (closed, wrong state), with a stable ERR_* code.
 */
#ifndef PROACTOR_COMMON_SYSTEM_ERROR_H
#define PROACTOR_COMMON_SYSTEM_ERROR_H

#include <napi.h>
#include <uv.h>

#include <string>

#ifdef _WIN32
#include "win/error_table.h"
#endif

namespace proactor {

#ifdef _WIN32
/* node.exe's Node-API import library has no libuv symbols: names from uv.h's table instead. */
inline std::string ErrorCodeName(int negative_errno) {
  const char* name = ErrorName(negative_errno);
  return name != nullptr ? name : "Unknown system error " + std::to_string(negative_errno);
}
inline std::string ErrorCodeMessage(int negative_errno) {
  const char* message = ErrorMessage(negative_errno);
  return message != nullptr ? message : "Unknown system error " + std::to_string(negative_errno);
}
#else
inline std::string ErrorCodeName(int negative_errno) { return uv_err_name(negative_errno); }
inline std::string ErrorCodeMessage(int negative_errno) { return uv_strerror(negative_errno); }
#endif

inline Napi::Error SystemError(Napi::Env env, int negative_errno, const char* syscall) {
  const std::string name = ErrorCodeName(negative_errno);
  std::string message = std::string(syscall) + ": " + name + " (" + ErrorCodeMessage(negative_errno) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, name));
  error.Set("errno", Napi::Number::New(env, negative_errno));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

inline Napi::Error CodedError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

}  // namespace proactor

#endif  // PROACTOR_COMMON_SYSTEM_ERROR_H
