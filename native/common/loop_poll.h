/*
 * LoopPoll: wakes the JS thread through libuv when a descriptor becomes readable (a uv_poll_t
 * on the Node environment's loop). Engines poll their completion source with it: the io_uring
 * engine an eventfd registered with its ring, the reactor engines their epoll/kqueue fd.
 *
 * The handle counts towards keeping the loop alive only while SetRef(true); engines ref it
 * only while operations are in flight, so an idle process exits.
 *
 * Close() is asynchronous: libuv frees the handle in its close callback, so the owner may be
 * destroyed right after calling Close(). The owner's callback is never called after Close().
 */
#ifndef PROACTOR_COMMON_LOOP_POLL_H
#define PROACTOR_COMMON_LOOP_POLL_H

#include <node_api.h>
#include <uv.h>

namespace proactor {

class LoopPoll {
 public:
  using Callback = void (*)(void* owner);
  using Closed = void (*)(void* arg);

  LoopPoll() = default;
  ~LoopPoll() { Close(nullptr, nullptr); }
  LoopPoll(const LoopPoll&) = delete;
  LoopPoll& operator=(const LoopPoll&) = delete;

  /* Starts watching `fd`, unreferenced. Returns 0 or a negative libuv error. */
  int Start(napi_env env, int fd, Callback callback, void* owner);
  void SetRef(bool referenced);
  /* Stops watching; `closed(arg)` runs once libuv has released the handle (may be null). */
  void Close(Closed closed, void* arg);
  bool IsActive() const { return handle_ != nullptr; }

 private:
  struct Handle {
    uv_poll_t poll;
    Callback callback;
    void* owner;
    Closed closed;
    void* closed_arg;
  };
  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnClose(uv_handle_t* handle);

  Handle* handle_ = nullptr;
  bool referenced_ = false;
};

}  // namespace proactor

#endif  // PROACTOR_COMMON_LOOP_POLL_H
