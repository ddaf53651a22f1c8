/*
 * Fault injection at the system-call seam (test builds only).
 *
 * A native backend asks, at each place where the kernel may answer in a documented but rare way,
 * whether to pretend it did: `if (InjectFault(FaultSite::uring_enter_eintr)) return -EINTR;`.
 * Release builds and prebuilds compile InjectFault to `false` (the call sites vanish); a build
 * with -DPROACTOR_FAULTS=ON (cmake; see native/cmake/addon.cmake and scripts/test-faults.mjs)
 * compiles in a seeded schedule read from the environment variable PROACTOR_FAULTS on first use:
 *
 *   PROACTOR_FAULTS=seed:42,uring_enter_eintr=0.05,short_file_transfer=0.2
 *
 * `seed:N` (or seed=N) picks the schedule, `site=rate` is the probability (0..1) that a call at
 * that site is hit, `all=rate` sets every site not named. An unknown site or a malformed entry
 * aborts the process with a message: a typo must not silently test nothing.
 *
 * Reproducibility: the n-th call at a site is hit or not by a hash of (seed, site, n) alone, so
 * a site's decisions do not depend on the other sites or on how calls interleave between sites.
 * A run that fails is re-run with the seed it printed; what differs between two runs of one
 * seed is only how many calls each site saw (completions arrive when the kernel delivers them).
 *
 * Adding a site is one line in PROACTOR_FAULT_SITES (name, what it pretends) plus the call
 * where the system call is made. Sites of one mechanism simply never fire in another's addon
 * (uring_* in io_uring's; poller_*, spurious_readiness and connect_eintr in the reactor's; port_*
 * and wakeup_queue_full in IOCP's).
 *
 * Thread safety: InjectFault may be called from any thread (per-site counters are atomic);
 * ReplaceFaultSchedule only while no other thread injects (tests call it between operations).
 */
#ifndef PROACTOR_COMMON_FAULT_SCHEDULE_H
#define PROACTOR_COMMON_FAULT_SCHEDULE_H

#include <cstdint>
#include <string>
#include <vector>

/* X(site, what it pretends the kernel did). */
#define PROACTOR_FAULT_SITES(X)                                                                   \
  X(uring_enter_eintr, "io_uring_enter was interrupted by a signal (EINTR)")                      \
  X(uring_enter_eagain, "io_uring_enter could not allocate request memory now (EAGAIN)")          \
  X(uring_enter_ebusy, "io_uring_enter refused: completions must be reaped first (EBUSY)")        \
  X(uring_enter_partial, "io_uring_enter consumed fewer submission entries than asked")           \
  X(uring_cq_overflow, "completions did not fit the CQ ring: some wait in the overflow list")     \
  X(short_file_transfer, "a read, write, readv or writev of a file moved fewer bytes")          \
  X(short_socket_transfer, "a recv or send moved fewer bytes than asked")                         \
  X(accept_connaborted, "the connection was aborted before accept took it (ECONNABORTED)")        \
  X(accept_emfile, "accept found the process's descriptor table full (EMFILE)")                   \
  X(accept_enfile, "accept found the system's file table full (ENFILE)")                          \
  X(send_stuck, "a socket stays unwritable: every send on it waits (EAGAIN forever)")             \
  X(pool_refuses, "the blocking pool could not start a thread for the job")                      \
  X(poller_wait_eintr, "the poller's wait (epoll_wait, poll, kevent) was interrupted (EINTR)")    \
  X(poller_wakeup_spurious, "the reactor's loop or waiter woke up with nothing to report")        \
  X(spurious_readiness, "a socket reported ready still would block: its call says EAGAIN")        \
  X(connect_eintr, "connect was interrupted after it started (EINTR): it goes on in the background") \
  /* IOCP's own (native/iocp, native/common/win); it also asks short_*_transfer, accept_*,     \
   * send_stuck, pool_refuses and poller_wakeup_spurious (waitSync's wait). */                  \
  X(port_wait_timeout, "GetQueuedCompletionStatusEx failed with WAIT_TIMEOUT: no packet came")    \
  X(port_wait_empty, "GetQueuedCompletionStatusEx returned with 0 entries (a spurious wakeup)")   \
  X(wakeup_queue_full, "napi_call_threadsafe_function refused the wakeup call (napi_queue_full)")

namespace proactor {

enum class FaultSite : uint8_t {
#define PROACTOR_FAULT_SITE_ENUM(name, what) name,
  PROACTOR_FAULT_SITES(PROACTOR_FAULT_SITE_ENUM)
#undef PROACTOR_FAULT_SITE_ENUM
      kCount
};

/* One site as a report shows it. */
struct FaultSiteReport {
  const char* name;
  const char* what;
  double rate;
  uint64_t calls;    /* times the site was asked */
  uint64_t injected; /* times it answered yes */
};

#ifdef PROACTOR_FAULTS

constexpr bool kFaultsCompiledIn = true;
/* Whether this call at `site` fails (counts the call, and the fault when there is one). */
bool InjectFault(FaultSite site);
/* Replaces the schedule (same syntax as PROACTOR_FAULTS; "" injects nothing) and zeroes the
 * counts. Returns an error message, or "" when the spec was valid. */
std::string ReplaceFaultSchedule(const std::string& spec);
uint64_t FaultSeed();
std::vector<FaultSiteReport> FaultReport();

#else

constexpr bool kFaultsCompiledIn = false;
inline constexpr bool InjectFault(FaultSite /*site*/) { return false; }

#endif

}  // namespace proactor

#endif  // PROACTOR_COMMON_FAULT_SCHEDULE_H
