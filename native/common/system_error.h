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

namespace proactor {

inline Napi::Error SystemError(Napi::Env env, int negative_errno, const char* syscall) {
  std::string message =
      std::string(syscall) + ": " + uv_err_name(negative_errno) + " (" + uv_strerror(negative_errno) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, uv_err_name(negative_errno)));
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
