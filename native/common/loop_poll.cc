#include "loop_poll.h"

namespace proactor {

int LoopPoll::Start(napi_env env, int fd, Callback callback, void* owner) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return UV_EINVAL;
  auto* handle = new Handle{};
  handle->callback = callback;
  handle->owner = owner;
  int r = uv_poll_init(loop, &handle->poll, fd);
  if (r != 0) {
    delete handle;
    return r;
  }
  handle->poll.data = handle;
  r = uv_poll_start(&handle->poll, UV_READABLE, OnPoll);
  if (r != 0) {
    handle->closed = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&handle->poll), OnClose);
    return r;
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&handle->poll));
  referenced_ = false;
  handle_ = handle;
  return 0;
}

void LoopPoll::SetRef(bool referenced) {
  if (handle_ == nullptr || referenced == referenced_) return;
  referenced_ = referenced;
  if (referenced) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(&handle_->poll));
  }
}

void LoopPoll::Close(Closed closed, void* arg) {
  Handle* handle = handle_;
  if (handle == nullptr) return;
  handle_ = nullptr;
  handle->callback = nullptr;
  handle->owner = nullptr;
  handle->closed = closed;
  handle->closed_arg = arg;
  uv_poll_stop(&handle->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&handle->poll), OnClose);
}

void LoopPoll::OnPoll(uv_poll_t* poll, int /*status*/, int /*events*/) {
  // An error status (the fd went bad) is handled like readiness: the owner looks and finds out.
  auto* handle = static_cast<Handle*>(poll->data);
  if (handle->callback != nullptr) handle->callback(handle->owner);
}

void LoopPoll::OnClose(uv_handle_t* raw) {
  auto* handle = static_cast<Handle*>(raw->data);
  Closed closed = handle->closed;
  void* arg = handle->closed_arg;
  delete handle;
  if (closed != nullptr) closed(arg);
}

}  // namespace proactor
