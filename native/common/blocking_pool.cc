#include "blocking_pool.h"

#include <system_error>

#include "fault_schedule.h"

namespace proactor {

BlockingPool::BlockingPool(unsigned threads, Notify notify, void* notify_arg)
    : max_threads_(threads == 0 ? 1 : threads), notify_(notify), notify_arg_(notify_arg) {}

BlockingPool::~BlockingPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool BlockingPool::Post(uint64_t tag, std::function<int64_t()> work) {
  std::unique_lock<std::mutex> lock(mutex_);
  // One more thread while every existing one is busy, up to the limit.
  if (threads_.size() < max_threads_ && running_ + jobs_.size() >= threads_.size()) {
    try {
      if (InjectFault(FaultSite::pool_refuses)) {
        throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again));
      }
      threads_.emplace_back(&BlockingPool::Run, this);
    } catch (const std::system_error&) {
      if (threads_.empty()) return false;
    }
  }
  jobs_.emplace_back(tag, std::move(work));
  outstanding_++;
  lock.unlock();
  work_cv_.notify_one();
  return true;
}

void BlockingPool::TakeResults(std::vector<Result>* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  outstanding_ -= results_.size();
  out->insert(out->end(), results_.begin(), results_.end());
  results_.clear();
}

size_t BlockingPool::Outstanding() {
  std::lock_guard<std::mutex> lock(mutex_);
  return outstanding_;
}

bool BlockingPool::HasResults() {
  std::lock_guard<std::mutex> lock(mutex_);
  return !results_.empty();
}

void BlockingPool::WaitIdle() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_cv_.wait(lock, [this] { return jobs_.empty() && running_ == 0; });
}

void BlockingPool::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and nothing left to finish
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    running_++;
    lock.unlock();
    int64_t result = job.second();
    lock.lock();
    running_--;
    results_.emplace_back(job.first, result);
    if (jobs_.empty() && running_ == 0) idle_cv_.notify_all();
    lock.unlock();
    if (notify_ != nullptr) notify_(notify_arg_);
    lock.lock();
  }
}

}  // namespace proactor
