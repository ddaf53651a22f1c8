/*
 * EpollPoller: the Poller (poller.h) over Linux epoll, level-triggered, its one-shot contract
 * kept in user space rather than by EPOLLONESHOT: a descriptor's interest stays in the kernel's
 * set after a report, so that the engine arming it again for the same directions (a receive
 * after a receive, the hot path of every request/response protocol) costs no system call, as
 * libuv changes its epoll set only when a watcher's events change. What the engine has armed
 * since the last report (armed_) decides what is reported:
 *
 * - Arm(fd, interest): no call when the kernel already holds exactly `interest` for `fd` and
 *   either the engine armed it since, or the last report for it was made in this turn
 *   (BeginTurn); else EPOLL_CTL_MOD (ADD the first time).
 * - Wait(): an event in a direction armed since the last report (or an error or hang-up, when
 *   anything was) is reported, and disarms the descriptor for the engine; the kernel keeps it.
 *   An event nobody armed for (the descriptor became ready again before the engine waited on
 *   it again) is not reported, and the kernel's interest is narrowed to what is armed (DEL when
 *   nothing is): level-triggered interest nobody waits on would be reported by every wait.
 *
 * Why a kept registration is trusted only within the turn of its report: a descriptor closed
 * behind the queue's back (not through it: Forget never ran) leaves the kernel's set silently,
 * and a new descriptor can get its number; arming that one must reach the kernel (MOD fails with
 * ENOENT, then ADD). A re-arm from the callbacks of the delivery that made the report (a receive
 * after a receive) trusts it; one in a later turn makes the call, as one-shot arming did. What
 * is left: a descriptor closed behind the queue's back and its number reused and waited on
 * within that same turn waits for nothing (poller.h).
 */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "../common/fault_schedule.h"
#include "poller.h"

namespace proactor {

namespace {

uint32_t EpollEvents(uint32_t interest) {
  uint32_t events = 0;
  if (interest & kPollReadable) events |= EPOLLIN | EPOLLRDHUP;
  if (interest & kPollWritable) events |= EPOLLOUT;
  return events;
}

class EpollPoller final : public Poller {
 public:
  ~EpollPoller() override {
    if (epfd_ >= 0) close(epfd_);
  }

  int Open(const char** syscall) override {
    *syscall = "epoll_create1";
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    return epfd_ < 0 ? -errno : 0;
  }

  int descriptor() const override { return epfd_; }

  int Arm(int fd, uint32_t interest) override {
    if (fd < 0) return -EBADF;
    if (static_cast<size_t>(fd) >= state_.size()) state_.resize(static_cast<size_t>(fd) + 1 + fd / 2);
    State& s = state_[fd];
    if (s.kernel == interest && (s.armed != 0 || s.kept == turn_)) {
      s.armed = interest;
      s.kept = 0;
      return 0;
    }
    struct epoll_event ev = {};
    ev.events = EpollEvents(interest);
    ev.data.fd = fd;
    // Registered as far as we know: MOD; a descriptor closed and reused behind our back left the
    // set (ENOENT): ADD. New to us: ADD; one we forgot but the kernel kept (EEXIST): MOD.
    const bool known = s.kernel != 0;
    int r = epoll_ctl(epfd_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (r < 0 && errno == (known ? ENOENT : EEXIST)) r = epoll_ctl(epfd_, known ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    if (r < 0) {
      syscall_ = "epoll_ctl";
      return -errno;
    }
    s = State{static_cast<uint8_t>(interest), static_cast<uint8_t>(interest), 0};
    return 0;
  }

  void BeginTurn() override {
    if (++turn_ == 0) turn_ = 1;  // 0 means "not kept"
  }

  void Forget(int fd) override {
    if (fd < 0 || static_cast<size_t>(fd) >= state_.size()) return;
    const bool known = state_[fd].kernel != 0;
    state_[fd] = State{};
    // ENOENT / EBADF: the kernel dropped it already (closed behind our back).
    if (known) (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  }

  int Wait(int timeout_ms, std::vector<PollEvent>* out) override {
    struct epoll_event events[kPollBatch];
    int n;
    if (InjectFault(FaultSite::poller_wait_eintr)) {
      // Before anything was collected: what is ready stays ready for the next wait.
      n = -1;
      errno = EINTR;
    } else {
      n = epoll_wait(epfd_, events, kPollBatch, timeout_ms);
    }
    if (n < 0) {
      if (errno == EINTR) return 0;
      syscall_ = "epoll_wait";
      return -errno;
    }
    int reported = 0;
    for (int i = 0; i < n; i++) {
      const int fd = events[i].data.fd;
      if (fd < 0 || static_cast<size_t>(fd) >= state_.size() || state_[fd].kernel == 0) continue;
      State& s = state_[fd];
      const uint32_t e = events[i].events;
      uint32_t ready = 0;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ready |= kPollReadable;
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ready |= kPollWritable;
      const bool failed = (e & (EPOLLHUP | EPOLLERR)) != 0;
      if (s.armed != 0 && (failed || (ready & s.armed) != 0)) {
        out->push_back({fd, failed ? ready : ready & s.armed});
        reported++;
        s.armed = 0;
        s.kept = turn_;
        continue;
      }
      // Ready with nobody waiting: the kernel's interest narrowed to what is armed.
      Narrow(fd, s);
    }
    return reported;
  }

  const char* name() const override { return "epoll"; }
  const char* syscall() const override { return syscall_; }

 private:
  /* Per descriptor (kPoll* bits). */
  struct State {
    uint8_t kernel = 0; /* the interest in the kernel's set as far as we know; 0: not in it */
    uint8_t armed = 0;  /* armed by the engine since the last report */
    uint32_t kept = 0;  /* the turn (turn_) whose report kept the registration; 0: none */
  };

  void Narrow(int fd, State& s) {
    if (s.armed == 0) {
      (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
      s = State{};
      return;
    }
    struct epoll_event ev = {};
    ev.events = EpollEvents(s.armed);
    ev.data.fd = fd;
    // ENOENT: closed behind our back; its waiters meet it with their next Arm's ADD, or never
    // hear of it, as with a one-shot registration that was armed and not reported.
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0) {
      s.kernel = s.armed;
    } else {
      s = State{};
    }
  }

  int epfd_ = -1;
  std::vector<State> state_;
  uint32_t turn_ = 1; /* BeginTurn() calls so far, from 1 */
  const char* syscall_ = "epoll_ctl";
};

}  // namespace

std::unique_ptr<Poller> NewEpollPoller() { return std::unique_ptr<Poller>(new EpollPoller()); }

}  // namespace proactor
