/*
 * PollerThread: for a readiness mechanism whose own descriptor the loop cannot watch, a thread
 * that blocks in the mechanism's wait and relays its reports to a descriptor that the loop can
 * watch (Poller::descriptor(), poller.h). Two pollers need it:
 *
 * - poll(2) has no descriptor at all: the set of descriptors is an argument of each call;
 * - libkqueue (the kqueue API over epoll on Linux) returns the write end of a pipe as the
 *   kqueue descriptor (it detects a close through it), which never polls readable, so the
 *   uv_poll the host keeps on descriptor() would never fire. (A real kqueue polls readable
 *   while events are pending and needs no thread.)
 *
 * Why a thread rather than something in the host: libuv blocks in its own epoll_wait/kevent and
 * is woken only through descriptors it watches, so a mechanism that is not a descriptor must
 * have someone else block in it and signal one that is. The cost (a thread per environment and
 * poller, a hand-over per report batch) is paid only by these two pollers.
 *
 * Contract:
 * - Start(wait, interrupt): `wait` runs on the thread, again and again: it blocks until the
 *   mechanism has reports (appending them) or `interrupt` was called, and returns how many it
 *   appended or a negative libuv error (which stops the thread; Take() then returns it).
 *   `interrupt` is called from the JS thread by Stop() (and by the owner when its interest set
 *   changed, for poll(2)); it must make a running or the next `wait` return soon.
 * - Reports carry the generation of the registration they came from (TaggedEvent); the owner
 *   drops those of a descriptor it forgot since (poller.h: no report for a forgotten
 *   descriptor), on the JS thread, when it takes them.
 * - descriptor() polls readable while reports are pending. Take() and WaitPending() run on the
 *   JS thread; Stop() (also from the destructor) interrupts and joins the thread.
 */
#ifndef PROACTOR_REACTOR_POLLER_THREAD_H
#define PROACTOR_REACTOR_POLLER_THREAD_H

#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "../common/posix/signal_descriptor.h"

namespace proactor {

/* A report of `fd` (kPoll* bits in `ready`; kReadyEveryArmed: an error or hang-up, ready in
 * every armed direction) from its registration of generation `generation`; `error` as
 * PollEvent::error. */
struct TaggedEvent {
  int fd;
  uint32_t ready;
  uint32_t generation;
  int32_t error = 0;
};
constexpr uint32_t kReadyEveryArmed = 1u << 31;

class PollerThread {
 public:
  using Wait = std::function<int(std::vector<TaggedEvent>* out)>;
  using Interrupt = std::function<void()>;

  PollerThread() = default;
  ~PollerThread() { Stop(); }
  PollerThread(const PollerThread&) = delete;
  PollerThread& operator=(const PollerThread&) = delete;

  /* Creates the relay descriptor and starts the thread. 0, or a negative libuv error
   * (`*syscall` names the call). */
  int Start(Wait wait, Interrupt interrupt, const char** syscall);
  void Stop();
  /* Readable while reports are pending; -1 before Start(). */
  int descriptor() const { return relay_.descriptor(); }
  /* Moves up to `max` pending reports to `out`. The number moved, or the error that stopped the
   * thread once everything before it was taken. */
  int Take(std::vector<TaggedEvent>* out, size_t max);
  /* Blocks until reports are pending or `timeout_ms` (< 0: no limit) passed. 0, or a negative
   * libuv error. */
  int WaitPending(int timeout_ms) const;

 private:
  void Run();

  Wait wait_;
  Interrupt interrupt_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<TaggedEvent> pending_; /* guarded by mutex_ */
  int error_ = 0;                    /* guarded by mutex_ */
  bool stopping_ = false;            /* guarded by mutex_ */
  bool raised_ = false;              /* guarded by mutex_: relay_ signalled */
  SignalDescriptor relay_;
};

}  // namespace proactor

#endif  // PROACTOR_REACTOR_POLLER_THREAD_H
