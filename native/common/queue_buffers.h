/*
 * QueueBuffers: the native view of an aio-core RingContext (packages/aio-core/src/backend.ts),
 * shared by every native engine.
 *
 * Contracts:
 * - The submission, completion, stat and address buffers are owned by JavaScript. Their data pointers
 *   are stable for their lifetime: Node allocates every ArrayBuffer backing store outside the
 *   V8 heap, and napi_get_typedarray_info materialises an on-heap typed array's buffer before
 *   returning its pointer. Bind() caches the pointers.
 * - QueueBuffers holds only weak references; the engine's JS object keeps the RingContext alive
 *   (engines store it as a property), so an engine abandoned without close() stays collectable.
 *   Engines must keep their JS object strongly referenced while operations are in flight.
 */
#ifndef PROACTOR_COMMON_QUEUE_BUFFERS_H
#define PROACTOR_COMMON_QUEUE_BUFFERS_H

#include <napi.h>

#include <cstdint>

#include "proactor/abi.h"

namespace proactor {

class QueueBuffers {
 public:
  /* Reads the RingContext `ring`; throws a JS TypeError when a member is missing or malformed. */
  void Bind(Napi::Env env, Napi::Object ring);

  uint32_t entries() const { return entries_; }
  uint32_t submission_capacity() const { return submission_capacity_; }
  uint32_t completion_capacity() const { return completion_capacity_; }
  const proactor_sqe& Submission(uint32_t i) const { return submissions_[i]; }
  proactor_cqe* completions() const { return completions_; }
  /* The stat record of `slot` (PROACTOR_STAT_FIELDS doubles). */
  double* StatRecord(uint32_t slot) const { return stats_ + static_cast<size_t>(slot) * PROACTOR_STAT_FIELDS; }
  /* The address record of `slot` (PROACTOR_ADDRESS_SIZE bytes, struct proactor_address layout;
   * not necessarily aligned: copy it with memcpy). */
  uint8_t* AddressRecord(uint32_t slot) const { return addresses_ + static_cast<size_t>(slot) * PROACTOR_ADDRESS_SIZE; }

  /* The resource table (a JS array); index 2 * slot and 2 * slot + 1. */
  Napi::Object Resources() const { return resources_.Value(); }

  /*
   * Calls ring.complete(count). Callers coming from a libuv callback open a callback scope
   * (CompletionScope) around their whole dispatch, so that process.nextTick callbacks and
   * promise reactions run once, after every batch was handed over, and never while the
   * completion buffer is being read. Requires an open HandleScope.
   *
   * Returns napi_ok; napi_pending_exception with the thrown value in `*exception` (cleared
   * from the environment); or another status when JS cannot run any more (a worker being
   * terminated), in which case nothing must be created in the environment.
   */
  napi_status Complete(napi_env env, uint32_t count, napi_value* exception);

 private:
  uint32_t entries_ = 0;
  uint32_t submission_capacity_ = 0;
  uint32_t completion_capacity_ = 0;
  const proactor_sqe* submissions_ = nullptr;
  proactor_cqe* completions_ = nullptr;
  double* stats_ = nullptr;
  uint8_t* addresses_ = nullptr;
  Napi::ObjectReference resources_;
  Napi::FunctionReference complete_;
};

/*
 * A callback scope for delivering completions from a libuv callback: closing it (at the end
 * of the enclosing block) runs the microtask queue and process.nextTick callbacks, as Node
 * does after its own callbacks. Does nothing when the environment cannot run JS.
 */
class CompletionScope {
 public:
  CompletionScope(napi_env env, napi_async_context context);
  ~CompletionScope();
  CompletionScope(const CompletionScope&) = delete;
  CompletionScope& operator=(const CompletionScope&) = delete;

 private:
  napi_env env_;
  napi_callback_scope scope_ = nullptr;
};

}  // namespace proactor

#endif  // PROACTOR_COMMON_QUEUE_BUFFERS_H
