/*
 * KqueuePoller: the Poller (poller.h) over kqueue: the system's on macOS and FreeBSD, libkqueue
 * (the kqueue API over epoll, built by scripts/libkqueue.mjs; PROACTOR_LIBKQUEUE) on Linux,
 * where it lets the reactor run on this mechanism without a BSD machine.
 *
 * One filter per direction: EVFILT_READ for kPollReadable, EVFILT_WRITE for kPollWritable, each
 * added with EV_ONESHOT, so a report drops the filter that fired (the other stays armed until it
 * fires or Forget() deletes it; the engine re-arms what it still waits for, as poller.h says).
 * EV_ADD of a filter already in the kqueue modifies it, so a descriptor closed behind our back
 * (it silently left the kqueue) is simply registered again.
 *
 * Each registration carries, as its udata, the descriptor's generation, which Forget() bumps:
 * a report that left the kernel before the EV_DELETE but is looked at after it names an old
 * generation and is dropped, so no report follows Forget(). A kevent with EV_EOF (the peer is
 * gone) or EV_ERROR reports every direction armed on the descriptor, so the waiters' own calls
 * meet the error; the two kevents of one descriptor in one batch become one PollEvent.
 *
 * Waking the loop: a real kqueue descriptor polls readable while events are pending, and the
 * host's uv_poll watches it. libkqueue's descriptor is the write end of a pipe (it detects a
 * close through it) and never polls readable, so there a PollerThread (poller_thread.h) blocks
 * in kevent() and relays the reports; Stop() interrupts it with an EVFILT_USER event
 * (NOTE_TRIGGER), the kqueue's own cross-thread wakeup. libkqueue drops its lock while waiting,
 * so Arm() and Forget() from the JS thread proceed meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "../common/fault_schedule.h"
#include "poller.h"
#include "poller_thread.h"

namespace proactor {

namespace {

/* The EVFILT_USER event that interrupts the relay thread (an ident no descriptor uses as a
 * user event: user events have their own namespace). */
constexpr uintptr_t kInterruptIdent = 1;

class KqueuePoller final : public Poller {
 public:
  ~KqueuePoller() override {
    relay_.Stop();
    if (kq_ >= 0) close(kq_);
  }

  int Open(const char** syscall) override {
    *syscall = "kqueue";
    kq_ = kqueue();
    if (kq_ < 0) return -errno;
    // The BSDs never pass a kqueue to a child; libkqueue's descriptor (a pipe underneath, on
    // Linux) would survive an exec without FD_CLOEXEC.
    if (fcntl(kq_, F_SETFD, FD_CLOEXEC) < 0) {
      *syscall = "fcntl";
      return -errno;
    }
#ifdef PROACTOR_LIBKQUEUE
    struct kevent user;
    EV_SET(&user, kInterruptIdent, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
    if (kevent(kq_, &user, 1, nullptr, 0, nullptr) < 0) {
      *syscall = "kevent";
      return -errno;
    }
    return relay_.Start([this](std::vector<TaggedEvent>* out) { return Collect(-1, out); },
                        [this] { Interrupt(); }, syscall);
#else
    return 0;
#endif
  }

  int descriptor() const override {
#ifdef PROACTOR_LIBKQUEUE
    return relay_.descriptor();
#else
    return kq_;
#endif
  }

  int Arm(int fd, uint32_t interest) override {
    if (fd < 0) return -EBADF;
    Registration& r = registration(fd);
    for (uint32_t direction : {kPollReadable, kPollWritable}) {
      if ((interest & direction) == 0) continue;
      struct kevent change;
      EV_SET(&change, fd, FilterOf(direction), EV_ADD | EV_ENABLE | EV_ONESHOT, 0, 0,
             reinterpret_cast<void*>(static_cast<uintptr_t>(r.generation)));
      int added = kevent(kq_, &change, 1, nullptr, 0, nullptr);
#ifdef PROACTOR_LIBKQUEUE
      // libkqueue now and then fails an EV_ADD of a socket's read filter with errno EAGAIN
      // (seen in about three runs of four of the 8 MiB stream echo case: likely a filter it
      // still holds after its one-shot report, and an errno left by the engine's own
      // non-blocking call; not confirmed in its sources). Deleted and added afresh, it works
      // (8 runs of 8).
      if (added < 0) {
        struct kevent remove;
        EV_SET(&remove, fd, FilterOf(direction), EV_DELETE, 0, 0, nullptr);
        (void)kevent(kq_, &remove, 1, nullptr, 0, nullptr);
        errno = 0;
        added = kevent(kq_, &change, 1, nullptr, 0, nullptr);
      }
#endif
      if (added < 0) {
        syscall_ = "kevent";
        return errno != 0 ? -errno : -EIO;
      }
      r.armed |= direction;
    }
    return 0;
  }

  void Forget(int fd) override {
    if (fd < 0 || static_cast<size_t>(fd) >= registrations_.size()) return;
    Registration& r = registrations_[fd];
    for (uint32_t direction : {kPollReadable, kPollWritable}) {
      if ((r.armed & direction) == 0) continue;
      struct kevent change;
      EV_SET(&change, fd, FilterOf(direction), EV_DELETE, 0, 0, nullptr);
      // ENOENT: the filter fired (one-shot) or the descriptor was closed behind our back.
      (void)kevent(kq_, &change, 1, nullptr, 0, nullptr);
    }
    r.armed = 0;
    r.generation++;
  }

  int Wait(int timeout_ms, std::vector<PollEvent>* out) override {
    tagged_.clear();
#ifdef PROACTOR_LIBKQUEUE
    if (timeout_ms != 0) {
      const int w = relay_.WaitPending(timeout_ms);
      if (w < 0) {
        syscall_ = "poll";
        return w;
      }
    }
    const int n = relay_.Take(&tagged_, kPollBatch);
#else
    const int n = Collect(timeout_ms, &tagged_);
#endif
    if (n < 0) {
      syscall_ = "kevent";
      return n;
    }
    const size_t first = out->size();
    for (const TaggedEvent& e : tagged_) {
      if (static_cast<size_t>(e.fd) >= registrations_.size()) continue;
      Registration& r = registrations_[e.fd];
      // Forgotten since (the report left the kernel before the EV_DELETE): not reported.
      if (e.generation != r.generation) continue;
      const uint32_t direction = e.ready & (kPollReadable | kPollWritable);
      const uint32_t ready = direction | ((e.ready & kReadyEveryArmed) ? r.armed : 0);
      r.armed &= ~direction;  // EV_ONESHOT: this filter is gone
      Merge(out, first, e.fd, ready, e.error);
    }
    return static_cast<int>(out->size() - first);
  }

  const char* name() const override { return "kqueue"; }
  const char* syscall() const override { return syscall_; }

 private:
  struct Registration {
    uint32_t armed = 0;      /* directions armed and not yet reported */
    uint32_t generation = 0; /* bumped by Forget() */
  };

  static int16_t FilterOf(uint32_t direction) {
    return static_cast<int16_t>(direction == kPollReadable ? EVFILT_READ : EVFILT_WRITE);
  }

  Registration& registration(int fd) {
    if (static_cast<size_t>(fd) >= registrations_.size()) registrations_.resize(static_cast<size_t>(fd) + 1 + fd / 2);
    return registrations_[fd];
  }

  /* One kevent() wait: its reports, tagged with the generation of their registration. Runs on
   * the JS thread, or (libkqueue) on the relay thread, where it touches nothing but the kqueue. */
  int Collect(int timeout_ms, std::vector<TaggedEvent>* out) {
    struct kevent events[kPollBatch];
    struct timespec timeout;
    if (timeout_ms >= 0) {
      timeout.tv_sec = timeout_ms / 1000;
      timeout.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
    }
    if (InjectFault(FaultSite::poller_wait_eintr)) return 0;  // EINTR: nothing was dequeued
    const int n = kevent(kq_, nullptr, 0, events, kPollBatch, timeout_ms >= 0 ? &timeout : nullptr);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
      if (events[i].filter != EVFILT_READ && events[i].filter != EVFILT_WRITE) continue;  // the interrupt
      uint32_t ready = events[i].filter == EVFILT_READ ? kPollReadable : kPollWritable;
      if (events[i].flags & (EV_EOF | EV_ERROR)) ready |= kReadyEveryArmed;
      int32_t error = 0;
#ifdef PROACTOR_LIBKQUEUE
      // libkqueue filled fflags with getsockopt(SO_ERROR), which cleared the socket's error:
      // it travels with the report (PollEvent::error). A kernel's kqueue leaves it pending.
      if ((events[i].flags & EV_EOF) && events[i].fflags != 0) error = -static_cast<int32_t>(events[i].fflags);
#endif
      out->push_back({static_cast<int>(events[i].ident), ready,
                      static_cast<uint32_t>(reinterpret_cast<uintptr_t>(events[i].udata)), error});
    }
    return static_cast<int>(out->size());
  }

  void Interrupt() {
    struct kevent trigger;
    EV_SET(&trigger, kInterruptIdent, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
    (void)kevent(kq_, &trigger, 1, nullptr, 0, nullptr);
  }

  /* One PollEvent per descriptor among those appended since `first`. */
  static void Merge(std::vector<PollEvent>* out, size_t first, int fd, uint32_t ready, int32_t error) {
    for (size_t i = first; i < out->size(); i++) {
      if ((*out)[i].fd == fd) {
        (*out)[i].ready |= ready;
        if ((*out)[i].error == 0) (*out)[i].error = error;
        return;
      }
    }
    out->push_back({fd, ready, error});
  }

  int kq_ = -1;
  /* By descriptor (JS thread only). */
  std::vector<Registration> registrations_;
  std::vector<TaggedEvent> tagged_;
  PollerThread relay_;
  const char* syscall_ = "kevent";
};

}  // namespace

std::unique_ptr<Poller> NewKqueuePoller() { return std::unique_ptr<Poller>(new KqueuePoller()); }

}  // namespace proactor
