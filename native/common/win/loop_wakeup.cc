/*
 * LoopWakeup on Windows (see ../loop_wakeup.h): a napi_threadsafe_function. Signal() queues one
 * call unless one is pending (State::pending); the call runs the owner's callback on the JS
 * thread, which calls Clear() before it looks for work, so a Signal() after that queues the next
 * call and nothing is lost.
 */
#include "../loop_wakeup.h"

#include <uv.h>

#include <new>

#include "../fault_schedule.h"
#include "error_table.h"

namespace proactor {

LoopWakeup::~LoopWakeup() { Close(nullptr, nullptr); }

int LoopWakeup::Open(napi_env env, Callback callback, void* owner, const char** syscall) {
  *syscall = "CreateEventW";
  event_ = CreateEventW(nullptr, FALSE, FALSE, nullptr);
  if (event_ == nullptr) return TranslateSystemError(GetLastError());
  *syscall = "napi_create_threadsafe_function";
  auto* state = new (std::nothrow) State();
  if (state == nullptr) {
    CloseEvent();
    return UV_ENOMEM;
  }
  state->callback = callback;
  state->owner = owner;
  napi_value name;
  if (napi_create_string_utf8(env, "proactor:wakeup", NAPI_AUTO_LENGTH, &name) != napi_ok) {
    delete state;
    CloseEvent();
    return UV_EINVAL;
  }
  napi_threadsafe_function tsfn = nullptr;
  // Queue size 0 (unlimited): at most one call is ever queued anyway. Finalize frees `state`.
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, state, &LoopWakeup::Finalize, state,
                                      &LoopWakeup::CallJs, &tsfn) != napi_ok) {
    delete state;
    CloseEvent();
    return UV_EINVAL;
  }
  state->tsfn = tsfn;
  // Unreferenced until SetRef(true), as the POSIX poll handle.
  (void)napi_unref_threadsafe_function(env, tsfn);
  env_ = env;
  state_ = state;
  referenced_ = false;
  return 0;
}

void LoopWakeup::Signal() {
  State* state = state_;
  if (state == nullptr) return;
  (void)SetEvent(event_);
  if (state->pending.exchange(true)) return;
  std::lock_guard<std::mutex> lock(state->mutex);
  if (state->tsfn == nullptr) return;
  napi_status status = InjectFault(FaultSite::wakeup_queue_full)
                           ? napi_queue_full
                           : napi_call_threadsafe_function(state->tsfn, nullptr, napi_tsfn_nonblocking);
  // A full queue (the queue is unlimited, so only when Node says so anyway): the blocking form
  // waits for room, as Node-API documents; a dropped call would leave `pending` set and this
  // environment never woken again. napi_closing: the environment is going away, and its teardown
  // reaps what is left (EnvHost): nothing more is called.
  if (status == napi_queue_full) {
    status = napi_call_threadsafe_function(state->tsfn, nullptr, napi_tsfn_blocking);
  }
  // Any other refusal: the next Signal() tries again.
  if (status != napi_ok && status != napi_closing) state->pending.store(false);
}

void LoopWakeup::Clear() {
  if (state_ != nullptr) state_->pending.store(false);
}

void LoopWakeup::SetRef(bool referenced) {
  if (state_ == nullptr || state_->tsfn == nullptr || referenced == referenced_) return;
  referenced_ = referenced;
  if (referenced) {
    (void)napi_ref_threadsafe_function(env_, state_->tsfn);
  } else {
    (void)napi_unref_threadsafe_function(env_, state_->tsfn);
  }
}

void LoopWakeup::CloseEvent() {
  if (event_ != nullptr) CloseHandle(event_);
  event_ = nullptr;
}

void LoopWakeup::Close(LoopPoll::Closed closed, void* arg) {
  CloseEvent();
  State* state = state_;
  if (state == nullptr) {
    if (closed != nullptr) closed(arg);
    return;
  }
  state_ = nullptr;
  napi_threadsafe_function tsfn;
  bool finalized;
  {
    std::lock_guard<std::mutex> lock(state->mutex);
    tsfn = state->tsfn;
    finalized = state->finalized;
    state->tsfn = nullptr;
    state->callback = nullptr;
    state->closed = closed;
    state->closed_arg = arg;
    state->released = true;
  }
  // Abort: a queued call is dropped; Finalize runs once Node let go of the function.
  if (finalized || napi_release_threadsafe_function(tsfn, napi_tsfn_abort) != napi_ok) {
    Finalize(nullptr, state, nullptr);
  }
}

void LoopWakeup::CallJs(napi_env env, napi_value /*js_callback*/, void* context, void* /*data*/) {
  auto* state = static_cast<State*>(context);
  if (env == nullptr || state->callback == nullptr) return;  // closing
  state->callback(state->owner);
}

void LoopWakeup::Finalize(napi_env /*env*/, void* data, void* /*hint*/) {
  auto* state = static_cast<State*>(data);
  {
    // Node finalized the function before Close() (its environment went first): the owner still
    // points at `state`, and Close() frees it.
    std::lock_guard<std::mutex> lock(state->mutex);
    if (!state->released) {
      state->tsfn = nullptr;
      state->finalized = true;
      return;
    }
  }
  LoopPoll::Closed closed = state->closed;
  void* arg = state->closed_arg;
  delete state;
  if (closed != nullptr) closed(arg);
}

}  // namespace proactor
