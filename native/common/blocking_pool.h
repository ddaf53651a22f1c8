/*
 * BlockingPool: a few threads that run blocking system calls for operations an engine cannot
 * hand to its kernel mechanism (an io_uring opcode the running kernel lacks; regular files on
 * the reactor backends). Results are collected by the owning thread with TakeResults(); the
 * pool calls `notify` (from a pool thread) after each result, e.g. to signal an eventfd the
 * owner polls. Threads start on the first Post(), so an engine that never falls back pays
 * nothing.
 *
 * Contract: the destructor finishes every posted job before returning (the jobs write into
 * memory the owner frees afterwards).
 */
#ifndef PROACTOR_COMMON_BLOCKING_POOL_H
#define PROACTOR_COMMON_BLOCKING_POOL_H

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace proactor {

class BlockingPool {
 public:
  using Notify = void (*)(void* arg);
  using Result = std::pair<uint64_t, int64_t>; /* (tag, result) */

  BlockingPool(unsigned threads, Notify notify, void* notify_arg);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  /* Runs `work` on a pool thread; its return value comes back tagged with `tag`. False when no
   * thread could be started. */
  bool Post(uint64_t tag, std::function<int64_t()> work);
  /* Appends the finished results to `out`. */
  void TakeResults(std::vector<Result>* out);
  /* Jobs posted and not yet taken by TakeResults(). */
  size_t Outstanding();
  /* Whether finished results wait for TakeResults(). */
  bool HasResults();
  /* Blocks until every posted job has finished. */
  void WaitIdle();

 private:
  void Run();

  const unsigned max_threads_;
  const Notify notify_;
  void* const notify_arg_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::pair<uint64_t, std::function<int64_t()>>> jobs_;
  std::vector<Result> results_;
  std::vector<std::thread> threads_;
  size_t running_ = 0;
  size_t outstanding_ = 0;
  bool stopping_ = false;
};

}  // namespace proactor

#endif  // PROACTOR_COMMON_BLOCKING_POOL_H
