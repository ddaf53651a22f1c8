#include "queue_buffers.h"

namespace proactor {

namespace {

Napi::ArrayBuffer RequireArrayBuffer(Napi::Env env, Napi::Object ring, const char* name, size_t min_bytes) {
  Napi::Value value = ring.Get(name);
  if (!value.IsArrayBuffer()) {
    throw Napi::TypeError::New(env, std::string("ring.") + name + " must be an ArrayBuffer");
  }
  Napi::ArrayBuffer buffer = value.As<Napi::ArrayBuffer>();
  if (buffer.ByteLength() < min_bytes) {
    throw Napi::RangeError::New(env, std::string("ring.") + name + " is too small");
  }
  return buffer;
}

uint32_t RequireCount(Napi::Env env, Napi::Object ring, const char* name) {
  Napi::Value value = ring.Get(name);
  if (!value.IsNumber()) throw Napi::TypeError::New(env, std::string("ring.") + name + " must be a number");
  double n = value.As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= 1 << 20) || n != static_cast<double>(static_cast<uint32_t>(n))) {
    throw Napi::RangeError::New(env, std::string("ring.") + name + " is out of range");
  }
  return static_cast<uint32_t>(n);
}

}  // namespace

void QueueBuffers::Bind(Napi::Env env, Napi::Object ring) {
  entries_ = RequireCount(env, ring, "entries");
  completion_capacity_ = RequireCount(env, ring, "completionEntries");

  Napi::ArrayBuffer submissions = RequireArrayBuffer(env, ring, "submissions", size_t{2} * entries_ * PROACTOR_SQE_SIZE);
  submission_capacity_ = static_cast<uint32_t>(submissions.ByteLength() / PROACTOR_SQE_SIZE);
  submissions_ = static_cast<const proactor_sqe*>(submissions.Data());

  Napi::ArrayBuffer completions =
      RequireArrayBuffer(env, ring, "completions", size_t{completion_capacity_} * PROACTOR_CQE_SIZE);
  completions_ = static_cast<proactor_cqe*>(completions.Data());

  Napi::Value stats = ring.Get("stats");
  if (!stats.IsTypedArray() || stats.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "ring.stats must be a Float64Array");
  }
  Napi::Float64Array stat_array = stats.As<Napi::Float64Array>();
  if (stat_array.ElementLength() < size_t{entries_} * PROACTOR_STAT_FIELDS) {
    throw Napi::RangeError::New(env, "ring.stats is too small");
  }
  stats_ = stat_array.Data();

  Napi::Value addresses = ring.Get("addresses");
  if (!addresses.IsTypedArray() || addresses.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "ring.addresses must be a Uint8Array");
  }
  Napi::Uint8Array address_array = addresses.As<Napi::Uint8Array>();
  if (address_array.ElementLength() < size_t{entries_} * PROACTOR_ADDRESS_SIZE) {
    throw Napi::RangeError::New(env, "ring.addresses is too small");
  }
  addresses_ = address_array.Data();

  Napi::Value resources = ring.Get("resources");
  if (!resources.IsArray()) throw Napi::TypeError::New(env, "ring.resources must be an array");
  Napi::Value complete = ring.Get("complete");
  if (!complete.IsFunction()) throw Napi::TypeError::New(env, "ring.complete must be a function");

  resources_ = Napi::Weak(resources.As<Napi::Object>());
  complete_ = Napi::Weak(complete.As<Napi::Function>());
}

napi_status QueueBuffers::Complete(napi_env env, uint32_t count, napi_value* exception) {
  *exception = nullptr;
  napi_value fn, recv, argv[1], result;
  napi_status status = napi_get_reference_value(env, complete_, &fn);
  if (status != napi_ok) return status;
  if (fn == nullptr) return napi_invalid_arg;  // collected: nobody is listening any more
  if ((status = napi_get_undefined(env, &recv)) != napi_ok) return status;
  if ((status = napi_create_uint32(env, count, &argv[0])) != napi_ok) return status;
  status = napi_call_function(env, recv, fn, 1, argv, &result);
  if (status == napi_pending_exception) {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, exception);
  }
  return status;
}

CompletionScope::CompletionScope(napi_env env, napi_async_context context) : env_(env) {
  napi_value resource;
  if (napi_create_object(env, &resource) != napi_ok) return;
  if (napi_open_callback_scope(env, resource, context, &scope_) != napi_ok) scope_ = nullptr;
}

CompletionScope::~CompletionScope() {
  if (scope_ != nullptr) napi_close_callback_scope(env_, scope_);
}

}  // namespace proactor
