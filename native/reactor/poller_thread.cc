#include "poller_thread.h"

#include <errno.h>
#include <poll.h>

#include <cstddef>
#include <system_error>

#include "../common/fault_schedule.h"

namespace proactor {

int PollerThread::Start(Wait wait, Interrupt interrupt, const char** syscall) {
  int r = relay_.Open(syscall);
  if (r < 0) return r;
  wait_ = std::move(wait);
  interrupt_ = std::move(interrupt);
  *syscall = "pthread_create";
  try {
    thread_ = std::thread(&PollerThread::Run, this);
  } catch (const std::system_error& e) {
    relay_.Close();
    return -(e.code().value() != 0 ? e.code().value() : EAGAIN);
  }
  return 0;
}

void PollerThread::Stop() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    interrupt_();
    thread_.join();
  }
  relay_.Close();
}

void PollerThread::Run() {
  std::vector<TaggedEvent> batch;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
    }
    batch.clear();
    const int n = wait_(&batch);
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    if (n < 0) error_ = n;
    else pending_.insert(pending_.end(), batch.begin(), batch.end());
    // (A spurious wakeup: the loop is woken with nothing to take.)
    const bool spurious = n == 0 && InjectFault(FaultSite::poller_wakeup_spurious);
    if ((n < 0 || !pending_.empty() || spurious) && !raised_) {
      raised_ = true;
      relay_.Signal();
    }
    if (n < 0) return;
  }
}

int PollerThread::Take(std::vector<TaggedEvent>* out, size_t max) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t n = pending_.size() < max ? pending_.size() : max;
  out->insert(out->end(), pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  if (!pending_.empty()) return static_cast<int>(n);
  if (n == 0 && error_ < 0) return error_;  // stays signalled: the error is reported again
  if (raised_) {
    raised_ = false;
    relay_.Clear();
  }
  return static_cast<int>(n);
}

int PollerThread::WaitPending(int timeout_ms) const {
  struct pollfd p = {relay_.descriptor(), POLLIN, 0};
  const int r = poll(&p, 1, timeout_ms);
  if (r < 0 && errno != EINTR) return -errno;
  return 0;
}

}  // namespace proactor
