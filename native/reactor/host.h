/*
 * ReactorHost: the readiness reactor of one Node environment (the main thread, or a worker),
 * shared by every queue (ReactorEngine) attached there with the same poller. What every
 * mechanism's host does (engine registry, wakeup, blocking pool, dispatch into JS, teardown)
 * is EnvHost's (../common/env_host.h); this is what is the reactor's own:
 *
 * - the Poller (poller.h: epoll, kqueue or poll(2); the host never asks which), watched on the
 *   loop by a uv_poll on its descriptor, whose callback reaps and delivers like the wakeup's;
 * - per descriptor, FIFO lists of parked operations (their tags) waiting for it to become
 *   readable or writable. An operation parks behind those already waiting in its direction
 *   (it is not even tried first: two recvs on one stream complete in submission order). On a
 *   report the host retries the waiters of each ready direction in order, through their
 *   engine, until one would block again; then it arms the poller for what is still waited for
 *   (one-shot, poller.h);
 * - timers (PROACTOR_OP_TIMEOUT): an ordered set of deadlines on the steady clock, and one
 *   uv_timer on the loop armed for the earliest; waitSync() bounds its wait by it. A timer heap
 *   rather than a timerfd per poller: poll(2) has no timer descriptor, kqueue's EVFILT_TIMER
 *   and timerfd would be two more mechanism-specific paths, and one uv_timer costs no system
 *   call to re-arm;
 * - cancellations: an operation cancelled (or ended by a close of its descriptor) leaves its
 *   list at once and is finished with UV_ECANCELED at the next reap, never from inside submit().
 *
 * Threading: everything on the environment's JS thread; the pool's results arrive through the
 * EnvHost wakeup.
 */
#ifndef PROACTOR_REACTOR_HOST_H
#define PROACTOR_REACTOR_HOST_H

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../common/env_host.h"
#include "poller.h"

namespace proactor {

/* What the host runs when a descriptor it watches for an engine (Watch) polls readable: a
 * completion eventfd (linux_aio.h). Called on the JS thread from the host's reap; the host arms
 * the descriptor again afterwards. */
class ReadableWatcher {
 public:
  virtual void OnReadable() = 0;
  /* The poller could not arm the descriptor again (`error`, a negative libuv code): nothing will
   * report it any more; the watcher must collect what it waits for by other means. */
  virtual void OnWatchFailed(int error) = 0;

 protected:
  ~ReadableWatcher() = default;
};

class ReactorHost final : public EnvHost {
 public:
  /* The host of `env` with the poller named `poller` ("epoll", "kqueue", "poll"), created on
   * first use; throws a JS error when the poller cannot be created. */
  static ReactorHost* Get(Napi::Env env, const std::string& poller);

  ~ReactorHost() override;

  /* Whether operations already wait on `fd` in a direction of `directions`. */
  bool HasWaiters(int fd, uint32_t directions) const;
  /* Parks the operation `tag` on `fd` for every direction of `directions` (an operation
   * waiting for either: poll for IN and OUT) and arms the poller. 0, or the poller's error
   * (the operation is then not parked). */
  int Park(int fd, uint32_t directions, uint64_t tag);
  /* Removes `tag` from the lists of `fd`. */
  void Unpark(int fd, uint64_t tag);
  /* Finishes `tag` with UV_ECANCELED at the next reap (if it is still that operation). */
  void CancelLater(uint64_t tag);
  /* Every operation parked on `fd` is cancelled (CancelLater), and the poller forgets `fd`:
   * it is about to be closed. */
  void CancelDescriptor(int fd);
  /* The poller forgets `fd` (a close is launched; or the queue just got `fd` from socket or
   * accept, so what is known of its number belongs to a descriptor closed behind the queue's
   * back: no system call then unless something was known); nothing may be parked on it. */
  void ForgetDescriptor(int fd);
  /* Drops every parked operation and timer of engine `id` (its queue is closing). */
  void DropEngine(uint16_t id);

  /* Fault injection (send_stuck): whether sends on `fd` are stuck, i.e. every send on it says
   * EAGAIN and the poller is never armed for its writability (a peer that never reads, seen from
   * a socket that never becomes writable). `consult`: a send is launched, and the schedule may
   * make the socket stuck now. Stuck until the socket is closed through the queue; its sends end
   * only by a cancel or that close. Always false without fault injection. */
  bool SendStuck(int fd, bool consult);

  /* Watches `fd` (owned by the caller) for readability on behalf of `watcher` until Unwatch():
   * each report runs watcher->OnReadable(), then the descriptor is armed again. 0, or the
   * poller's error. No operation may park on `fd`. */
  int Watch(int fd, ReadableWatcher* watcher);
  /* Stops watching `fd` (before it is closed). */
  void Unwatch(int fd);

  /* A timer for `tag` expiring `timeout_ns` from now; returns its deadline (for CancelTimer). */
  int64_t AddTimer(uint64_t tag, uint64_t timeout_ns);
  /* Removes the timer and finishes `tag` with UV_ECANCELED (CancelLater), unless it expired. */
  void CancelTimer(int64_t deadline, uint64_t tag);

  Poller& poller() { return *poller_; }
  size_t parked() const;
  size_t timers() const { return timers_.size(); }

  const char* kind() const override { return kind_.c_str(); }
  /* Blocks until the poller has a report, the wakeup is signalled, the earliest timer is due,
   * or `timeout_ns` (< 0: no limit) passed. */
  int Wait(int64_t timeout_ns) override;
  const char* wait_syscall() const override { return "poll"; }

 private:
  ReactorHost(napi_env env, std::string poller);
  void OpenMechanism(Napi::Env env) override;
  void ConnectWakeup(Napi::Env env) override;
  /* Poller reports, due timers and cancellations, to their engines. */
  void ReapMechanism() override;
  /* A delivery from the loop begins: a new turn for the poller (Poller::BeginTurn). */
  void OnWake() override { poller_->BeginTurn(); }
  void CancelAndDrain() override;
  void CloseMechanism() override;
  /* Hands each engine's queued kernel requests (Linux AIO) over. */
  void Flush() override;

  struct Waiters {
    std::deque<uint64_t> read;
    std::deque<uint64_t> write;
    uint32_t armed = 0; /* kPoll* bits the poller was last armed with and has not reported */
  };
  /* Retries the waiters of `fd` in the directions `ready`, then re-arms for what is left;
   * `error` (PollEvent::error) goes to the first waiter whose call would have met it. */
  void RunWaiters(int fd, uint32_t ready, int32_t error);
  /* Arms the poller for what `fd`'s waiters want beyond what is armed; on failure every waiter
   * ends with the error. */
  void Rearm(int fd);
  /* `directions` without those never armed for `fd` (SendStuck). */
  uint32_t Armable(int fd, uint32_t directions) const;
  /* Finishes `tag` with `result` if it still names an active operation. */
  void FinishTag(uint64_t tag, int32_t result);
  void ExpireTimers();
  void ScheduleTimer();
  static void OnTimer(uv_timer_t* timer);
  /* The loop found the poller's descriptor readable: reports are due (poll_due_). */
  static void OnPollerReadable(void* self);

  std::string kind_;
  std::unique_ptr<Poller> poller_;
  LoopPoll poller_watch_;
  /* Whether the poller may hold reports not collected yet: set when the loop (poller_watch_) or
   * Wait() saw its descriptor readable, cleared by the poll that collects them. A reap polls only
   * then, not in every delivery round: each poll is a system call (epoll_wait), four per echo
   * round trip before (bench/results/reactor-poll-due-ab.md), and a report that arrives meanwhile
   * keeps the descriptor readable (poller.h), so the loop's level-triggered watch reports it. */
  bool poll_due_ = true;
  /* The loop timer, freed by its close callback (it may outlive the host). */
  struct Timer {
    uv_timer_t handle;
    ReactorHost* host;
  };
  Timer* timer_ = nullptr;
  int64_t timer_due_ = -1; /* the deadline the uv_timer is armed for (-1: stopped) */

  /* Node-based: references stay valid while the map grows (a retry may park more). */
  std::unordered_map<int, Waiters> waiters_;
  std::unordered_map<int, ReadableWatcher*> watchers_;
  std::set<std::pair<int64_t, uint64_t>> timers_; /* (deadline in steady ns, tag) */
  std::vector<uint64_t> cancelled_;
  std::vector<PollEvent> events_;
  std::vector<int> stuck_sends_; /* SendStuck: fault-injection builds only */
};

}  // namespace proactor

#endif  // PROACTOR_REACTOR_HOST_H
