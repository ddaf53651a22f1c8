/*
 * LoopWakeup: wakes the environment's JS thread from any thread (a pool thread that finished a
 * job, the kernel posting a completion) and runs a callback there, on the environment's libuv
 * loop.
 *
 * POSIX (posix/loop_wakeup.cc): a SignalDescriptor (an eventfd on Linux, a pipe elsewhere) watched
 * by a uv_poll_t (LoopPoll). Its descriptor() becomes readable when signalled, which lets a
 * mechanism signal it from the kernel (io_uring's registered eventfd) and lets waitSync poll
 * it. Windows (win/loop_wakeup.cc): a napi_threadsafe_function with at most one call pending (an
 * atomic flag; the call drains everything): pure Node-API, which links against node.exe's
 * import library, where uv_async_send would need libuv symbols it lacks. It has no descriptor.
 *
 * Contracts: Signal() is thread-safe and coalesces; Clear() (JS thread) resets it before the
 * owner looks for work, so a signal after Clear() is never lost. The handle counts towards
 * keeping the loop alive only while SetRef(true). Close() is asynchronous (see LoopPoll); the
 * callback is never called after it.
 */
#ifndef PROACTOR_COMMON_LOOP_WAKEUP_H
#define PROACTOR_COMMON_LOOP_WAKEUP_H

#include <node_api.h>

#include "loop_poll.h" /* the callback types (on Windows nothing else: no uv_poll there) */

#ifdef _WIN32
#include <atomic>
#include <mutex>

#include "platform.h"
#else
#include <atomic>

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
  /* Stops watching and closes the descriptors; `closed(arg)` runs once the loop released the
   * handle (may be null). */
  void Close(LoopPoll::Closed closed, void* arg);

#ifdef _WIN32
  void SetRef(bool referenced);
  /* An auto-reset event that every Signal() sets: what waitSync blocks on (the function's call
   * cannot run while JavaScript is blocked). Null before Open() or after Close(). */
  HANDLE event() const { return event_; }

 private:
  /* Shared with the threadsafe function, which outlives Close() until Node finalizes it. */
  struct State {
    std::mutex mutex;             /* guards tsfn against a Signal() racing Close() */
    napi_threadsafe_function tsfn = nullptr;
    std::atomic<bool> pending{false};
    Callback callback = nullptr;
    void* owner = nullptr;
    LoopPoll::Closed closed = nullptr;
    void* closed_arg = nullptr;
    bool released = false;  /* Close() gave the function back */
    bool finalized = false; /* Node finalized it before that */
  };
  void CloseEvent();
  static void CallJs(napi_env env, napi_value js_callback, void* context, void* data);
  static void Finalize(napi_env env, void* data, void* hint);

  napi_env env_ = nullptr;
  HANDLE event_ = nullptr;
  State* state_ = nullptr; /* freed by Finalize */
  bool referenced_ = false;
};
#else
  /* Readable while signalled; -1 before Open() or after Close(). */
  int descriptor() const { return signal_.descriptor(); }
  void SetRef(bool referenced) { poll_.SetRef(referenced); }

 private:
  LoopPoll poll_;
  SignalDescriptor signal_;
  /* Signalled and not yet cleared: a Signal() that finds it set makes no system call (a pool
   * thread finishing a job per few microseconds would otherwise write the eventfd for each). Set
   * by the Signal() that writes, reset by Clear() after it reset the descriptor, so a Signal()
   * after Clear() always writes. (Signals from the kernel, io_uring's registered eventfd, do not
   * go through it.) */
  std::atomic<bool> pending_{false};
};
#endif

}  // namespace proactor

#endif  // PROACTOR_COMMON_LOOP_WAKEUP_H
