/*
 * SignalDescriptor: a descriptor that any thread makes readable (Signal) and its owner makes
 * unreadable again (Clear): an eventfd on Linux, a non-blocking pipe elsewhere. What a thread
 * signals so that another, blocked in poll(2), epoll or kqueue (or libuv's loop, through a
 * uv_poll), wakes up: LoopWakeup's signal, the reactor's relay of a poller thread's reports and
 * the interrupt of that thread.
 *
 * Contracts: Signal() is thread-safe, never blocks and coalesces (a full pipe is already
 * signalled); Clear() reads everything pending; a Signal() after Clear() is never lost.
 */
#ifndef PROACTOR_COMMON_POSIX_SIGNAL_DESCRIPTOR_H
#define PROACTOR_COMMON_POSIX_SIGNAL_DESCRIPTOR_H

namespace proactor {

class SignalDescriptor {
 public:
  SignalDescriptor() = default;
  ~SignalDescriptor() { Close(); }
  SignalDescriptor(const SignalDescriptor&) = delete;
  SignalDescriptor& operator=(const SignalDescriptor&) = delete;

  /* 0, or a negative libuv error; `*syscall` names the call that failed. */
  int Open(const char** syscall);
  void Signal();
  void Clear();
  void Close();
  /* Readable while signalled; -1 when not open. */
  int descriptor() const { return read_fd_; }

 private:
  int read_fd_ = -1;
  int write_fd_ = -1; /* == read_fd_ for an eventfd */
};

}  // namespace proactor

#endif  // PROACTOR_COMMON_POSIX_SIGNAL_DESCRIPTOR_H
