/*
 * LoopWakeup: wakes the environment's JS thread from any thread (a pool thread that finished a
 * job, the kernel posting a completion) and runs a callback there, on the environment's libuv
 * loop.
 *
 * POSIX (posix/loop_wakeup.cc): a SignalDescriptor (an eventfd on Linux, a pipe elsewhere) watched
 * by a uv_poll_t (LoopPoll). Its descriptor() becomes readable when signalled, which lets a
 * mechanism signal it from the kernel (io_uring's registered eventfd) and lets waitSync poll
 * it. The Windows form (win/) will be a napi_threadsafe_function with at most one call pending.
 *
 * Contracts: Signal() is thread-safe and coalesces; Clear() (JS thread) resets it before the
 * owner looks for work, so a signal after Clear() is never lost. The handle counts towards
 * keeping the loop alive only while SetRef(true). Close() is asynchronous (see LoopPoll); the
 * callback is never called after it.
 */
#ifndef PROACTOR_COMMON_LOOP_WAKEUP_H
#define PROACTOR_COMMON_LOOP_WAKEUP_H

#include <node_api.h>

#include "loop_poll.h"
#ifndef _WIN32
#include "posix/signal_descriptor.h"
#endif

namespace proactor {

class LoopWakeup {
 public:
  using Callback = LoopPoll::Callback;

  LoopWakeup() = default;
  ~LoopWakeup();
  LoopWakeup(const LoopWakeup&) = delete;
  LoopWakeup& operator=(const LoopWakeup&) = delete;

  /* Creates the signal and starts watching it, unreferenced. 0, or a negative libuv error;
   * `*syscall` names what failed. */
  int Open(napi_env env, Callback callback, void* owner, const char** syscall);
  void Signal();
  void Clear();
  /* Readable while signalled; -1 before Open() or after Close(). */
  int descriptor() const { return signal_.descriptor(); }
  void SetRef(bool referenced) { poll_.SetRef(referenced); }
  /* Stops watching and closes the descriptors; `closed(arg)` runs once the loop released the
   * handle (may be null). */
  void Close(LoopPoll::Closed closed, void* arg);

 private:
  LoopPoll poll_;
  SignalDescriptor signal_;
};

}  // namespace proactor

#endif  // PROACTOR_COMMON_LOOP_WAKEUP_H
