/*
 * EpollPoller: the Poller (poller.h) over Linux epoll. One-shot through EPOLLONESHOT: a report
 * disarms the descriptor in both directions, and Arm() re-arms it with EPOLL_CTL_MOD (ADD the
 * first time), so each wait costs one epoll_ctl. Level-triggered otherwise: a descriptor armed
 * while already ready is reported at once.
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
    struct epoll_event ev = {};
    uint32_t events = EPOLLONESHOT;
    if (interest & kPollReadable) events |= EPOLLIN | EPOLLRDHUP;
    if (interest & kPollWritable) events |= EPOLLOUT;
    ev.events = events;
    ev.data.fd = fd;
    // Registered as far as we know: MOD; a descriptor closed and reused behind our back left the
    // set (ENOENT): ADD. New to us: ADD; one we forgot but the kernel kept (EEXIST): MOD.
    const bool known = static_cast<size_t>(fd) < registered_.size() && registered_[fd] != 0;
    int r = epoll_ctl(epfd_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (r < 0 && errno == (known ? ENOENT : EEXIST)) r = epoll_ctl(epfd_, known ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
    if (r < 0) {
      syscall_ = "epoll_ctl";
      return -errno;
    }
    if (static_cast<size_t>(fd) >= registered_.size()) registered_.resize(static_cast<size_t>(fd) + 1 + fd / 2, 0);
    registered_[fd] = 1;
    return 0;
  }

  void Forget(int fd) override {
    if (fd < 0 || static_cast<size_t>(fd) >= registered_.size() || registered_[fd] == 0) return;
    registered_[fd] = 0;
    // ENOENT / EBADF: the kernel dropped it already (closed behind our back).
    (void)epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
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
    for (int i = 0; i < n; i++) {
      const uint32_t e = events[i].events;
      uint32_t ready = 0;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ready |= kPollReadable;
      if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ready |= kPollWritable;
      out->push_back({events[i].data.fd, ready});
    }
    return n;
  }

  const char* name() const override { return "epoll"; }
  const char* syscall() const override { return syscall_; }

 private:
  int epfd_ = -1;
  /* By descriptor: whether it is in the epoll set as far as we know. */
  std::vector<uint8_t> registered_;
  const char* syscall_ = "epoll_ctl";
};

}  // namespace

std::unique_ptr<Poller> NewEpollPoller() { return std::unique_ptr<Poller>(new EpollPoller()); }

}  // namespace proactor
