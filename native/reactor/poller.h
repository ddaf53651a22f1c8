/*
 * Poller: the readiness mechanism under the reactor engine (reactor_host.h), one per Node
 * environment. One file per mechanism implements it: epoll_poller.cc (Linux), a kqueue poller
 * (macOS, FreeBSD; libkqueue on Linux) and a poll(2) poller. Nothing else in the reactor knows
 * which one runs; the engine includes this header only.
 *
 * Contract (every implementation gives exactly this, so the engine never asks which one runs):
 *
 * - Interest is per descriptor, in two directions: kPollReadable, kPollWritable. Registration
 *   is implicit: the first Arm() of a descriptor registers it; Forget() drops it.
 *
 * - ONE-SHOT: Arm(fd, interest) asks for one report. Once Wait() reported an event for `fd`,
 *   the poller may have dropped ALL of its interest in `fd` (the epoll poller disarms both
 *   directions; a kqueue EV_ONESHOT filter drops only the one that fired): the engine arms again
 *   with everything it still waits for. Arm() with an interest already armed is harmless. A
 *   descriptor armed and never reported stays armed. Arm(fd, 0) is not allowed (use Forget).
 *   Why one-shot: no storm of level-triggered reports for a descriptor nobody waits on any
 *   more, and the three mechanisms can all give it (poll(2) drops the descriptor from its set
 *   after reporting it). What it costs is the poller's: at most one system call per wait (one
 *   kevent change); the epoll poller keeps the kernel's registration after a report and makes
 *   no call for a re-arm of the same directions (epoll_poller.cc).
 *
 * - A report is a hint, never a promise: the engine retries its non-blocking call and arms
 *   again on EAGAIN. Errors and hang-ups (EPOLLERR/EPOLLHUP, EV_EOF/EV_ERROR, POLLERR/POLLHUP/
 *   POLLNVAL) are reported as ready in every direction that was armed, so the waiters' calls
 *   find the error themselves.
 *
 * - Forget(fd) is called before a descriptor is closed through the queue, and when the engine
 *   no longer waits on it. Afterwards no event for `fd` is reported from an earlier Arm().
 *   A descriptor closed behind the poller's back (not through the queue) may have silently
 *   left the kernel's set (epoll, kqueue): Arm() must therefore cope with a descriptor it
 *   believes registered but the kernel does not know (epoll: MOD fails with ENOENT -> ADD),
 *   and with one it believes new but the kernel knows (EEXIST -> MOD). Within one turn
 *   (BeginTurn) a poller may trust what it knows: a descriptor closed behind its back and its
 *   number reused and waited on in the turn that reported the old one is not supported.
 *
 * - descriptor(): a descriptor that polls readable while Wait(0) would report something (the
 *   epoll or kqueue descriptor itself). The host watches it on the libuv loop (uv_poll) and
 *   polls it together with its wakeup in waitSync(). A mechanism without one (poll(2)) must
 *   provide one, e.g. an eventfd/pipe signalled by a thread of its own that blocks in poll(2).
 *
 * - Wait(timeout_ms, out): appends ready events to `*out` (cleared by the caller), at most
 *   kPollBatch per call; timeout_ms < 0 waits without limit, 0 does not block. Returns the
 *   number appended, or a negative libuv error (UV_EINTR is reported as 0 events). The engine's
 *   own timers and cross-thread wakeups are not the poller's: the host keeps a timer heap (a
 *   uv_timer on the loop, a bounded Wait in waitSync) and wakes through EnvHost's LoopWakeup.
 *
 * - Threading: every method runs on the environment's JS thread.
 *
 * Errors are negative libuv codes (-errno on POSIX); `syscall()` names the call that failed last
 * ("epoll_ctl"), for the error a waiting operation completes with.
 */
#ifndef PROACTOR_REACTOR_POLLER_H
#define PROACTOR_REACTOR_POLLER_H

#include <cstdint>
#include <memory>
#include <vector>

namespace proactor {

/* Directions of interest (bits of a uint32_t). */
constexpr uint32_t kPollReadable = 1u << 0;
constexpr uint32_t kPollWritable = 1u << 1;

/* One report: `fd` is ready in the directions of `ready` (kPoll* bits). `error`: a pending
 * socket error (negative libuv code) that the mechanism consumed to make the report, so the
 * socket no longer holds it (libkqueue reads SO_ERROR, which clears it, to fill a kevent's
 * fflags; the kernels' pollers leave it pending): the first waiting call that would have met it
 * completes with it instead. 0 otherwise. */
struct PollEvent {
  int fd;
  uint32_t ready;
  int32_t error = 0;
};

/* At most this many events are reported per Wait(). */
constexpr int kPollBatch = 256;

class Poller {
 public:
  virtual ~Poller() = default;

  /* Creates the mechanism (epoll_create1, kqueue, ...). 0, or a negative libuv error; `*syscall`
   * names what failed. Called once, before anything else. */
  virtual int Open(const char** syscall) = 0;
  /* See the contract above. -1 before Open(). */
  virtual int descriptor() const = 0;
  /* Asks for one report when `fd` is ready in a direction of `interest` (non-zero PollInterest
   * bits). 0, or a negative libuv error (UV_EPERM: epoll refuses regular files; UV_EBADF). */
  virtual int Arm(int fd, uint32_t interest) = 0;
  /* Drops every interest in `fd` (it is about to be closed, or nobody waits on it). Never fails
   * visibly: a descriptor the kernel already dropped is fine. */
  virtual void Forget(int fd) = 0;
  /* A new turn begins: the host calls it before each delivery from the loop and before each
   * blocking wait of waitSync(). A poller that keeps the kernel's registration of a reported
   * descriptor (epoll) trusts it for a re-arm only in the turn of the report (see Forget above
   * and epoll_poller.cc); the others need not do anything. */
  virtual void BeginTurn() {}
  /* Collects ready descriptors; see the contract above. */
  virtual int Wait(int timeout_ms, std::vector<PollEvent>* out) = 0;
  /* A short name of the mechanism ("epoll", "kqueue", "poll"), for info() and messages. */
  virtual const char* name() const = 0;
  /* The system call behind the last error ("epoll_ctl", "epoll_wait"). */
  virtual const char* syscall() const = 0;
};

/* Each defined by its poller's file (epoll_poller.cc, ...); an addon links the ones it offers
 * (aio-epoll: epoll and poll; aio-kqueue: kqueue and poll) and picks one per host. */
std::unique_ptr<Poller> NewEpollPoller();
std::unique_ptr<Poller> NewKqueuePoller();
std::unique_ptr<Poller> NewPollPoller();

}  // namespace proactor

#endif  // PROACTOR_REACTOR_POLLER_H
