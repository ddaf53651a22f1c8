#include "host.h"

#include <errno.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "../common/engine_core.h"
#include "../common/fault_schedule.h"
#include "../common/system_error.h"
#include "engine.h"

namespace proactor {

namespace {

int64_t SteadyNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/* The pollers this addon was built with (each poller file defines its factory). */
std::unique_ptr<Poller> NewPoller(const std::string& name) {
#ifdef PROACTOR_REACTOR_EPOLL
  if (name == "epoll") return NewEpollPoller();
#endif
#ifdef PROACTOR_REACTOR_KQUEUE
  if (name == "kqueue") return NewKqueuePoller();
#endif
#ifdef PROACTOR_REACTOR_POLL
  if (name == "poll") return NewPollPoller();
#endif
  (void)name;
  return nullptr;
}

}  // namespace

ReactorHost* ReactorHost::Get(Napi::Env env, const std::string& poller) {
  EnvHost* found = Find(env, [&](EnvHost& host) { return poller == host.kind(); });
  if (found != nullptr) return static_cast<ReactorHost*>(found);
  return static_cast<ReactorHost*>(Adopt(env, std::unique_ptr<EnvHost>(new ReactorHost(env, poller))));
}

ReactorHost::ReactorHost(napi_env env, std::string poller)
    : EnvHost(env, "proactor:reactor"), kind_(std::move(poller)) {}

ReactorHost::~ReactorHost() { Teardown(nullptr, nullptr); }

void ReactorHost::OpenMechanism(Napi::Env env) {
  poller_ = NewPoller(kind_);
  if (poller_ == nullptr) {
    throw CodedError(env, "ERR_INVALID_ARG_VALUE", "this build has no '" + kind_ + "' poller");
  }
  const char* syscall = "poller";
  int r = poller_->Open(&syscall);
  if (r < 0) throw SystemError(env, r, syscall);
}

void ReactorHost::ConnectWakeup(Napi::Env env) {
  // The poller's descriptor wakes the loop as the EnvHost wakeup does (unreferenced: the
  // wakeup's handle keeps the loop alive while operations are in flight).
  int r = poller_watch_.Start(env, poller_->descriptor(), &ReactorHost::OnPollerReadable, this);
  if (r < 0) throw SystemError(env, r, "uv_poll_start");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) throw SystemError(env, UV_EINVAL, "uv_timer_init");
  timer_ = new Timer{};
  timer_->host = this;
  r = uv_timer_init(loop, &timer_->handle);
  if (r < 0) {
    delete timer_;
    timer_ = nullptr;
    throw SystemError(env, r, "uv_timer_init");
  }
  timer_->handle.data = timer_;
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_->handle));
}

size_t ReactorHost::parked() const {
  size_t n = 0;
  for (const auto& entry : waiters_) n += entry.second.read.size() + entry.second.write.size();
  return n;
}

// ---- parking -------------------------------------------------------------------------------

bool ReactorHost::HasWaiters(int fd, uint32_t directions) const {
  auto it = waiters_.find(fd);
  if (it == waiters_.end()) return false;
  return ((directions & kPollReadable) && !it->second.read.empty()) ||
         ((directions & kPollWritable) && !it->second.write.empty());
}

int ReactorHost::Park(int fd, uint32_t directions, uint64_t tag) {
  Waiters& w = waiters_[fd];
  if (directions & kPollReadable) w.read.push_back(tag);
  if (directions & kPollWritable) w.write.push_back(tag);
  // (Fault injection: the loop is woken with nothing to report, as by a poller descriptor that
  // polled readable and then had no event.)
  if (InjectFault(FaultSite::poller_wakeup_spurious)) Wake();
  if ((Armable(fd, directions) & ~w.armed) == 0) return 0;
  const uint32_t wanted = Armable(fd, w.armed | directions | (w.read.empty() ? 0 : kPollReadable) |
                                          (w.write.empty() ? 0 : kPollWritable));
  int r = poller_->Arm(fd, wanted);
  if (r < 0) {
    Unpark(fd, tag);
    return r;
  }
  w.armed = wanted;
  return 0;
}

void ReactorHost::Unpark(int fd, uint64_t tag) {
  auto it = waiters_.find(fd);
  if (it == waiters_.end()) return;
  for (std::deque<uint64_t>* list : {&it->second.read, &it->second.write}) {
    auto found = std::find(list->begin(), list->end(), tag);
    if (found != list->end()) list->erase(found);
  }
}

void ReactorHost::CancelLater(uint64_t tag) {
  cancelled_.push_back(tag);
  Wake();
}

void ReactorHost::CancelDescriptor(int fd) {
  auto it = waiters_.find(fd);
  if (it != waiters_.end()) {
    // (Entries stay: a retry further up the stack may hold a reference to them.)
    for (uint64_t tag : it->second.read) CancelLater(tag);
    for (uint64_t tag : it->second.write) CancelLater(tag);
    it->second.read.clear();
    it->second.write.clear();
    it->second.armed = 0;
  }
  poller_->Forget(fd);
}

void ReactorHost::ForgetDescriptor(int fd) {
  auto it = waiters_.find(fd);
  if (it != waiters_.end()) it->second.armed = 0;
  poller_->Forget(fd);
  if (!stuck_sends_.empty()) stuck_sends_.erase(std::remove(stuck_sends_.begin(), stuck_sends_.end(), fd), stuck_sends_.end());
}

bool ReactorHost::SendStuck(int fd, bool consult) {
  if (!kFaultsCompiledIn) return false;
  if (std::find(stuck_sends_.begin(), stuck_sends_.end(), fd) != stuck_sends_.end()) return true;
  if (!consult || !InjectFault(FaultSite::send_stuck)) return false;
  stuck_sends_.push_back(fd);
  return true;
}

uint32_t ReactorHost::Armable(int fd, uint32_t directions) const {
  if (stuck_sends_.empty() || std::find(stuck_sends_.begin(), stuck_sends_.end(), fd) == stuck_sends_.end()) {
    return directions;
  }
  return directions & ~kPollWritable;
}

void ReactorHost::DropEngine(uint16_t id) {
  auto mine = [id](uint64_t tag) { return TagEngine(tag) == id; };
  for (auto& entry : waiters_) {
    auto& w = entry.second;
    w.read.erase(std::remove_if(w.read.begin(), w.read.end(), mine), w.read.end());
    w.write.erase(std::remove_if(w.write.begin(), w.write.end(), mine), w.write.end());
  }
  for (auto it = timers_.begin(); it != timers_.end();) it = mine(it->second) ? timers_.erase(it) : std::next(it);
  cancelled_.erase(std::remove_if(cancelled_.begin(), cancelled_.end(), mine), cancelled_.end());
}

// ---- watched descriptors ------------------------------------------------------------------

int ReactorHost::Watch(int fd, ReadableWatcher* watcher) {
  const int r = poller_->Arm(fd, kPollReadable);
  if (r < 0) return r;
  watchers_[fd] = watcher;
  return 0;
}

void ReactorHost::Unwatch(int fd) {
  if (watchers_.erase(fd) > 0) poller_->Forget(fd);
}

// ---- timers --------------------------------------------------------------------------------

int64_t ReactorHost::AddTimer(uint64_t tag, uint64_t timeout_ns) {
  const uint64_t limit = static_cast<uint64_t>(INT64_MAX / 2);
  const int64_t deadline = SteadyNow() + static_cast<int64_t>(std::min(timeout_ns, limit));
  timers_.emplace(deadline, tag);
  ScheduleTimer();
  return deadline;
}

void ReactorHost::CancelTimer(int64_t deadline, uint64_t tag) {
  if (timers_.erase({deadline, tag}) == 0) return;  // expired: its result is on the way
  CancelLater(tag);
  ScheduleTimer();
}

void ReactorHost::ScheduleTimer() {
  if (timer_ == nullptr) return;
  if (timers_.empty()) {
    if (timer_due_ >= 0) uv_timer_stop(&timer_->handle);
    timer_due_ = -1;
    return;
  }
  const int64_t due = timers_.begin()->first;
  if (due == timer_due_) return;
  timer_due_ = due;
  const int64_t wait_ns = std::max<int64_t>(0, due - SteadyNow());
  // libuv counts in milliseconds from its cached loop time: rounded up, and a timer that fires
  // early finds nothing due and is armed again.
  uv_update_time(timer_->handle.loop);
  uv_timer_start(&timer_->handle, &ReactorHost::OnTimer, static_cast<uint64_t>((wait_ns + 999999) / 1000000), 0);
}

void ReactorHost::OnTimer(uv_timer_t* handle) {
  auto* timer = static_cast<Timer*>(handle->data);
  if (timer->host == nullptr) return;
  timer->host->timer_due_ = -1;
  EnvHost::OnReadable(timer->host);
  // Nothing expired yet (libuv's clock runs ahead of ours by a rounding): armed again.
  if (timer->host != nullptr && !timer->host->torn_down()) timer->host->ScheduleTimer();
}

void ReactorHost::ExpireTimers() {
  if (timers_.empty()) return;
  const int64_t now = SteadyNow();
  std::vector<uint64_t> due;
  while (!timers_.empty() && timers_.begin()->first <= now) {
    due.push_back(timers_.begin()->second);
    timers_.erase(timers_.begin());
  }
  for (uint64_t tag : due) FinishTag(tag, 0);
  ScheduleTimer();
}

// ---- reaping -------------------------------------------------------------------------------

void ReactorHost::FinishTag(uint64_t tag, int32_t result) {
  EngineCore* engine = this->engine(TagEngine(tag));
  if (engine != nullptr && engine->Active(tag) != nullptr) engine->Finish(TagSlot(tag), result);
}

void ReactorHost::OnPollerReadable(void* self) {
  static_cast<ReactorHost*>(self)->poll_due_ = true;
  EnvHost::OnReadable(self);
}

void ReactorHost::ReapMechanism() {
  // Polled only when the loop (or waitSync's wait) saw the poller's descriptor readable since the
  // last poll; see poll_due_.
  for (bool due = poll_due_; due;) {
    poll_due_ = false;
    events_.clear();
    const int n = poller_->Wait(0, &events_);
    if (n <= 0) break;
    for (const PollEvent& e : events_) {
      auto watched = watchers_.find(e.fd);
      if (watched == watchers_.end()) {
        RunWaiters(e.fd, e.ready, e.error);
        continue;
      }
      ReadableWatcher* watcher = watched->second;
      watcher->OnReadable();
      // (OnReadable may have unwatched it.)
      if (watchers_.count(e.fd) == 0) continue;
      const int r = poller_->Arm(e.fd, kPollReadable);
      if (r < 0) {
        watchers_.erase(e.fd);
        watcher->OnWatchFailed(r);
      }
    }
    due = n == kPollBatch;  // a full batch: more may be waiting
  }
  ExpireTimers();
  while (!cancelled_.empty()) {
    std::vector<uint64_t> batch;
    batch.swap(cancelled_);
    for (uint64_t tag : batch) FinishTag(tag, UV_ECANCELED);
  }
}

void ReactorHost::RunWaiters(int fd, uint32_t ready, int32_t error) {
  auto it = waiters_.find(fd);
  if (it == waiters_.end()) return;
  it->second.armed = 0;  // one-shot: the report dropped every interest
  for (uint32_t direction : {kPollReadable, kPollWritable}) {
    if ((ready & direction) == 0) continue;
    for (;;) {
      // Looked up again each time: a finish may launch a chain's next member, which may park.
      Waiters& w = waiters_[fd];
      std::deque<uint64_t>& list = direction == kPollReadable ? w.read : w.write;
      if (list.empty()) break;
      const uint64_t tag = list.front();
      EngineCore* engine = this->engine(TagEngine(tag));
      if (engine == nullptr || engine->Active(tag) == nullptr) {
        list.pop_front();  // finished meanwhile (e.g. a poll parked in both directions)
        continue;
      }
      // Every engine of a ReactorHost is a ReactorEngine.
      const int64_t r = static_cast<ReactorEngine*>(engine->driver())->Retry(tag, &error);
      if (r == UV_EAGAIN) break;
      Unpark(fd, tag);
      engine->Finish(TagSlot(tag), static_cast<int32_t>(r));
    }
  }
  Rearm(fd);
}

void ReactorHost::Rearm(int fd) {
  auto it = waiters_.find(fd);
  if (it == waiters_.end()) return;
  Waiters& w = it->second;
  const uint32_t wanted = Armable(fd, (w.read.empty() ? 0 : kPollReadable) | (w.write.empty() ? 0 : kPollWritable));
  if (wanted == 0 || (wanted & ~w.armed) == 0) return;
  int r = poller_->Arm(fd, wanted);
  if (r == 0) {
    w.armed = wanted;
    return;
  }
  // The descriptor cannot be waited on (closed behind the queue's back: EBADF): every waiter
  // ends with the error rather than waiting forever.
  std::vector<uint64_t> failed(w.read.begin(), w.read.end());
  failed.insert(failed.end(), w.write.begin(), w.write.end());
  w.read.clear();
  w.write.clear();
  for (uint64_t tag : failed) FinishTag(tag, r);
}

int ReactorHost::Wait(int64_t timeout_ns) {
  wakeup().Clear();
  if (pool().HasResults() || !cancelled_.empty()) return 0;
  int64_t limit_ns = timeout_ns;
  bool by_timer = false;
  if (!timers_.empty()) {
    const int64_t until_timer = std::max<int64_t>(0, timers_.begin()->first - SteadyNow());
    if (limit_ns < 0 || until_timer < limit_ns) {
      limit_ns = until_timer;
      by_timer = true;
    }
  }
  poller_->BeginTurn();
  struct pollfd p[2] = {{poller_->descriptor(), POLLIN, 0}, {wakeup().descriptor(), POLLIN, 0}};
  const int ms = limit_ns < 0 ? -1 : static_cast<int>(std::min<int64_t>((limit_ns + 999999) / 1000000, INT32_MAX));
  // A wakeup with nothing behind it, or an interrupted wait: waitSync() reaps nothing and waits
  // again for what is left of its time.
  if (InjectFault(FaultSite::poller_wakeup_spurious)) return 0;
  const int r = InjectFault(FaultSite::poller_wait_eintr) ? (errno = EINTR, -1) : poll(p, 2, ms);
  if (r < 0) return errno == EINTR ? 0 : -errno;
  if (p[0].revents != 0) poll_due_ = true;
  return r == 0 && !by_timer ? UV_ETIMEDOUT : 0;
}

// ---- teardown ------------------------------------------------------------------------------

void ReactorHost::Flush() {
  for (EngineCore* engine : engines()) {
    // Every engine of a ReactorHost is a ReactorEngine.
    if (engine != nullptr) static_cast<ReactorEngine*>(engine->driver())->FlushKernelRequests();
  }
}

void ReactorHost::CancelAndDrain() {
  // Parked operations hold nothing in the kernel: they are dropped with their engines. (Linux AIO
  // requests do: each engine waits for its own when it is detached, ReactorEngine::Release.)
  waiters_.clear();
  watchers_.clear();
  timers_.clear();
  cancelled_.clear();
}

void ReactorHost::CloseMechanism() {
  poller_watch_.Close(nullptr, nullptr);
  if (timer_ != nullptr) {
    timer_->host = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_->handle),
             [](uv_handle_t* h) { delete static_cast<Timer*>(h->data); });
    timer_ = nullptr;
  }
  poller_.reset();
}

}  // namespace proactor
