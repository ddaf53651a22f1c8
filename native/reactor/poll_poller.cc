/*
 * PollPoller: the Poller (poller.h) over poll(2), the mechanism every POSIX system has. It keeps
 * the reactor honest about what is poller-specific, and serves systems with neither epoll nor
 * kqueue.
 *
 * poll(2) has no descriptor of its own: the descriptors are an argument of each call. So a
 * PollerThread (poller_thread.h) blocks in poll(2) over the armed set and relays reports to a
 * descriptor the host's uv_poll watches. The alternatives were worse: polling with timeout 0
 * from a loop hook (uv_prepare/uv_check) never blocks, so the loop would either spin or sleep
 * through readiness, since libuv blocks in its own epoll/kqueue and wakes only for descriptors it
 * watches; a uv_poll per armed descriptor would be epoll again under another name.
 *
 * The armed set is shared with the thread under a mutex. Arm() and Forget() change it and
 * interrupt the thread's poll(2) through a control SignalDescriptor, which is always
 * the first entry of the set, so the next call sees the new set. One-shot: the thread removes a
 * descriptor from the set when it reports it (poll(2) is level-triggered: it would otherwise
 * report a ready descriptor again and again). Every registration carries its descriptor's
 * generation, bumped by Forget(), so a report made before a Forget() and taken after it is
 * dropped, and a descriptor closed and reused meanwhile is never mistaken for the old one.
 * POLLERR, POLLHUP and POLLNVAL (closed behind our back) report every armed direction.
 *
 * Cost: a write to the control descriptor and a rebuilt pollfd array per Arm()/Forget(), and a
 * poll(2) over every armed descriptor per report: O(n) per wait, which is what poll(2) is.
 */
#include <errno.h>
#include <poll.h>

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "../common/fault_schedule.h"
#include "../common/posix/signal_descriptor.h"
#include "poller.h"
#include "poller_thread.h"

namespace proactor {

namespace {

class PollPoller final : public Poller {
 public:
  ~PollPoller() override { relay_.Stop(); }

  int Open(const char** syscall) override {
    const int r = control_.Open(syscall);
    if (r < 0) return r;
    return relay_.Start([this](std::vector<TaggedEvent>* out) { return PollOnce(out); },
                        [this] { control_.Signal(); }, syscall);
  }

  int descriptor() const override { return relay_.descriptor(); }

  int Arm(int fd, uint32_t interest) override {
    if (fd < 0) return -EBADF;
    if (static_cast<size_t>(fd) >= generations_.size()) generations_.resize(static_cast<size_t>(fd) + 1 + fd / 2, 0);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      Interest& entry = armed_[fd];
      const uint32_t wanted = entry.directions | interest;
      if (wanted == entry.directions && entry.generation == generations_[fd]) return 0;
      entry.directions = wanted;
      entry.generation = generations_[fd];
    }
    control_.Signal();
    return 0;
  }

  void Forget(int fd) override {
    if (fd < 0 || static_cast<size_t>(fd) >= generations_.size()) return;
    generations_[fd]++;
    bool removed;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      removed = armed_.erase(fd) > 0;
    }
    // The thread may be polling the descriptor, which is about to be closed: it must not
    // keep it in its set (POLLNVAL, or a reused number's readiness, reported over and over).
    if (removed) control_.Signal();
  }

  int Wait(int timeout_ms, std::vector<PollEvent>* out) override {
    if (timeout_ms != 0) {
      const int w = relay_.WaitPending(timeout_ms);
      if (w < 0) {
        syscall_ = "poll";
        return w;
      }
    }
    tagged_.clear();
    const int n = relay_.Take(&tagged_, kPollBatch);
    if (n < 0) {
      syscall_ = "poll";
      return n;
    }
    for (const TaggedEvent& e : tagged_) {
      // Forgotten since the thread reported it: not reported.
      if (static_cast<size_t>(e.fd) >= generations_.size() || e.generation != generations_[e.fd]) continue;
      out->push_back({e.fd, e.ready});
    }
    return static_cast<int>(tagged_.size());
  }

  const char* name() const override { return "poll"; }
  const char* syscall() const override { return syscall_; }

 private:
  struct Interest {
    uint32_t directions = 0;
    uint32_t generation = 0;
  };

  /* The relay thread's wait: one poll(2) over the control descriptor and the armed set. */
  int PollOnce(std::vector<TaggedEvent>* out) {
    set_.clear();
    generations_seen_.clear();
    set_.push_back({control_.descriptor(), POLLIN, 0});
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& entry : armed_) {
        short events = 0;
        if (entry.second.directions & kPollReadable) events |= POLLIN;
        if (entry.second.directions & kPollWritable) events |= POLLOUT;
        set_.push_back({entry.first, events, 0});
        generations_seen_.push_back(entry.second.generation);
      }
    }
    if (InjectFault(FaultSite::poller_wait_eintr)) return 0;  // EINTR: the set is polled again
    const int n = poll(set_.data(), static_cast<nfds_t>(set_.size()), -1);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    if (set_[0].revents != 0) control_.Clear();
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 1; i < set_.size(); i++) {
      const short revents = set_[i].revents;
      if (revents == 0) continue;
      auto it = armed_.find(set_[i].fd);
      // Forgotten, or forgotten and armed again, while we polled: the report is not for the
      // current registration (level-triggered: a still-ready descriptor is reported next time).
      if (it == armed_.end() || it->second.generation != generations_seen_[i - 1]) continue;
      uint32_t ready = 0;
      if (revents & (POLLERR | POLLHUP | POLLNVAL)) ready = it->second.directions;
      if (revents & POLLIN) ready |= kPollReadable;
      if (revents & POLLOUT) ready |= kPollWritable;
      out->push_back({set_[i].fd, ready & it->second.directions, it->second.generation});
      armed_.erase(it);  // one-shot
    }
    return static_cast<int>(out->size());
  }

  /* Interrupts the thread's poll(2): its first entry. */
  SignalDescriptor control_;
  std::mutex mutex_;
  std::unordered_map<int, Interest> armed_; /* guarded by mutex_ */
  /* The relay thread's own. */
  std::vector<struct pollfd> set_;
  std::vector<uint32_t> generations_seen_;
  /* The JS thread's own: by descriptor, bumped by Forget(). */
  std::vector<uint32_t> generations_;
  std::vector<TaggedEvent> tagged_;
  PollerThread relay_;
  const char* syscall_ = "poll";
};

}  // namespace

std::unique_ptr<Poller> NewPollPoller() { return std::unique_ptr<Poller>(new PollPoller()); }

}  // namespace proactor
