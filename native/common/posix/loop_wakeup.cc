#include "../loop_wakeup.h"

namespace proactor {

LoopWakeup::~LoopWakeup() { Close(nullptr, nullptr); }

int LoopWakeup::Open(napi_env env, Callback callback, void* owner, const char** syscall) {
  int r = signal_.Open(syscall);
  if (r < 0) return r;
  *syscall = "uv_poll_start";
  r = poll_.Start(env, signal_.descriptor(), callback, owner);
  if (r < 0) signal_.Close();
  return r;
}

void LoopWakeup::Signal() {
  // Whoever posted the work did so before this; the owner's Clear() resets the flag before it
  // looks for work, so work posted by a Signal() that skips the write is found then.
  if (pending_.exchange(true)) return;
  signal_.Signal();
}

void LoopWakeup::Clear() {
  signal_.Clear();
  pending_.store(false);
}

void LoopWakeup::Close(LoopPoll::Closed closed, void* arg) {
  if (poll_.IsActive()) {
    poll_.Close(closed, arg);
  } else if (closed != nullptr) {
    closed(arg);
  }
  signal_.Close();
}

}  // namespace proactor
