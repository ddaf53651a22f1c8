/*
 * EnvRing: the io_uring of one Node environment (the main thread, or one worker thread),
 * shared by every queue (UringEngine) attached in that environment with the same ring options
 * (sizes, SQPOLL). It also owns the sparse registered-buffer and registered-file tables whose
 * index ranges it hands to its queues, and (SQPOLL) the personality of changed credentials.
 *
 * It owns what is per environment: the ring, the eventfd registered with it
 * (IORING_REGISTER_EVENTFD) and the uv_poll_t that watches it, the blocking pool for
 * operations the kernel lacks, and the async cleanup hook.
 *
 * user_data layout: generation << 32 | engine id << 16 | slot. Slots are < 65536 (aio-core's
 * limit on entries) and engine ids < 65535, so kCancelUserData (all ones) never names an
 * operation; generations keep a cancel from hitting a later operation in a reused slot.
 *
 * Delivery (Dispatch): completions are first moved out of the CQ ring (and the kernel's
 * overflow list, and the pool) into each engine's native ready list, then each engine hands
 * its list to JS in batches the size of its completion buffer. Reaping never waits for JS,
 * so a JS callback that re-enters (waitSync() on another queue) cannot corrupt a completion
 * buffer that is still being read.
 *
 * Lifetime: created by the first attach in an environment and kept while the environment
 * lives (idle, it costs two descriptors and about 64 KiB). The environment's async cleanup
 * hook tears it down: it cancels what is still in flight, waits for it (at most 10 s),
 * detaches the engines, closes the poll handle and the ring. The addon's instance data (the
 * registry of rings) frees the object afterwards.
 */
#ifndef PROACTOR_URING_ENV_RING_H
#define PROACTOR_URING_ENV_RING_H

#include <napi.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "../common/blocking_pool.h"
#include "../common/loop_poll.h"
#include "uring_ring.h"

namespace proactor {

class UringEngine;

constexpr uint64_t kCancelUserData = ~uint64_t{0};

inline uint64_t MakeUserData(uint32_t generation, uint16_t engine, uint16_t slot) {
  return (uint64_t{generation} << 32) | (uint64_t{engine} << 16) | slot;
}

/* Ring sizes. The defaults keep the rings at about 64 KiB, under the 64 KiB RLIMIT_MEMLOCK that
 * kernels before 5.12 charge them to; a full SQ is flushed and a full CQ spills into the
 * kernel's overflow list, so bigger batches only cost an extra io_uring_enter. */
struct EnvRingConfig {
  unsigned sq_entries = 512;
  unsigned cq_entries = 2048;
  /* IORING_SETUP_SQPOLL (opt-in): SQPOLL and plain queues never share a ring. */
  bool sqpoll = false;
  unsigned sq_idle_ms = 50;
  bool operator==(const EnvRingConfig& other) const {
    return sq_entries == other.sq_entries && cq_entries == other.cq_entries && sqpoll == other.sqpoll &&
           (!sqpoll || sq_idle_ms == other.sq_idle_ms);
  }
};

/* The registered-resource tables of a ring. */
enum class RsrcKind : uint8_t { Buffers = 0, Files = 1 };

class EnvRing {
 public:
  /* The ring of `env` with `config`, created on first use; throws a Napi::Error carrying
   * code / errno / syscall when io_uring cannot be set up. */
  static EnvRing* Get(Napi::Env env, const EnvRingConfig& config);

  ~EnvRing();
  EnvRing(const EnvRing&) = delete;
  EnvRing& operator=(const EnvRing&) = delete;

  /* Adds an engine; returns its id. Throws when the environment has 65535 engines. */
  uint16_t Register(Napi::Env env, UringEngine* engine);
  void Unregister(uint16_t id);

  UringRing& ring() { return ring_; }
  BlockingPool& pool() { return *pool_; }

  /* Queues `sqe` for the kernel: into the SQ (flushed first when full), or, when the kernel
   * takes nothing now (EBUSY/EAGAIN), into a backlog submitted from the poll callback. */
  void Push(const io_uring_sqe& sqe);
  /* Hands the queued SQEs to the kernel (retried from the poll callback when it is busy). */
  void Flush();
  /* Cancels the operation with `user_data` (TIMEOUT_REMOVE for timers). */
  void QueueCancel(uint64_t user_data, bool timer);
  /* Cancels every operation in the ring waiting on descriptor `fd` (Linux 5.19; a no-op before). */
  void QueueCancelFd(int fd);
  /* Makes the poll callback run soon (results decided without the kernel). */
  void Wake();
  /* Whether `engine` wants the loop kept alive; the poll handle is ref'd while any does. */
  void SetWantsRef(uint16_t id, bool wants);

  /*
   * Moves every available completion to its engine and delivers them to JS. Returns how many
   * were delivered to `focus` (may be null). Stops at an exception thrown by a complete()
   * callback and returns it in `*exception`. Requires a HandleScope.
   */
  uint32_t Dispatch(Napi::Env env, UringEngine* focus, napi_value* exception);
  /* Blocks (io_uring_enter with IORING_ENTER_GETEVENTS) until a completion may be available
   * or `timeout_ns` (< 0: no limit) passed; -ETIME on timeout, 0, or -errno. */
  int Wait(int64_t timeout_ns);

  /*
   * Registered buffers and files. Each table is registered sparse (IORING_RSRC_REGISTER_SPARSE,
   * Linux 5.19) on first use and shared by the environment's queues: each queue gets its own
   * ranges of indexes.
   *
   * RegisterRange fills a free range of `n` indexes with `entries` (iovecs for buffers, int fds
   * for files); `*base` receives its first index. 0, or -errno (-ENOSPC: no free range; the
   * kernel's error otherwise, nothing left registered).
   */
  int RegisterRange(RsrcKind kind, const void* entries, uint32_t n, uint32_t* base);
  /* Clears [base, base + n) and frees the indexes, as soon as the kernel consumed every SQE
   * pushed so far (an SQE not yet consumed may name them). */
  void ReleaseRange(RsrcKind kind, uint32_t base, uint32_t n);
  /* Hands every queued SQE to the kernel (waiting a little for an SQPOLL thread to take them)
   * and applies the releases that became safe. */
  void SettleReleases();

  /*
   * SQPOLL rings: the kernel thread submits with the credentials of the ring's creator. When
   * the effective uid or gid changed since the last check, the current credentials are
   * registered as a personality (IORING_REGISTER_PERSONALITY) that Push() puts in every SQE.
   * Called once per submitted batch and once per completion dispatch. No-op without SQPOLL.
   */
  void CheckCredentials();
  /* < 0 when the credentials changed but could not be registered: operations must not run. */
  int credentials_error() const { return credentials_error_; }
  uint16_t personality() const { return personality_; }

  uint64_t overflow_flushes() const { return overflow_flushes_; }
  uint64_t wakeups() const { return wakeups_; }
  bool js_gone() const { return js_gone_; }

 private:
  EnvRing(Napi::Env env, const EnvRingConfig& config);
  void Open(Napi::Env env);
  /* Completions from the CQ ring, its overflow list and the pool, to their engines. */
  void Reap();
  void Route(uint64_t user_data, int32_t result, uint32_t flags = 0);
  /* Moves backlogged SQEs into the SQ and flushes. */
  void DrainBacklog();
  /* Applies the pending releases whose SQEs were all consumed. */
  void ApplyReleases();
  /* Clears [base, base + n) of a table now. 0 or -errno. */
  int ClearRange(RsrcKind kind, uint32_t base, uint32_t n);
  /* Calls the table's update opcode for [base, base + n) until all were taken. 0 or -errno;
   * `*done` receives how many were updated. */
  int UpdateRange(RsrcKind kind, const void* entries, uint32_t base, uint32_t n, uint32_t* done);
  void Teardown(LoopPoll::Closed closed, void* closed_arg);
  void CancelAndDrain();
  static void OnReadable(void* self);
  /* The body of OnReadable: reap, then deliver every engine's completions into JavaScript. */
  void DeliverFromLoop();
  static void OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* self);

  napi_env env_;
  EnvRingConfig config_;
  UringRing ring_;
  struct UniqueFd {
    int fd = -1;
    UniqueFd() = default;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { Reset(); }
    void Reset();
  };
  /* Declared before poll_ and pool_, which use it: members are destroyed in reverse order. */
  UniqueFd eventfd_;
  LoopPoll poll_;
  std::unique_ptr<BlockingPool> pool_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  napi_async_cleanup_hook_handle cleanup_hook_ = nullptr;

  std::deque<io_uring_sqe> backlog_;  /* SQEs the full SQ could not take */
  /* SQEs ever passed to Push(); minus the backlog and the SQ's unconsumed ones: consumed. */
  uint64_t pushed_total_ = 0;

  struct RsrcTable {
    bool created = false;
    uint32_t size = 0;
    std::vector<bool> used;
  };
  RsrcTable tables_[2];
  struct PendingRelease {
    RsrcKind kind;
    uint32_t base;
    uint32_t n;
    uint64_t after; /* apply once this many SQEs were consumed */
  };
  std::vector<PendingRelease> releases_;

  uid_t cred_uid_ = 0; /* the credentials last checked (SQPOLL) */
  gid_t cred_gid_ = 0;
  uid_t creator_uid_ = 0;
  gid_t creator_gid_ = 0;
  uint16_t personality_ = 0;
  int credentials_error_ = 0;
  std::vector<UringEngine*> engines_; /* by id; null where free */
  std::vector<uint16_t> free_ids_;
  std::vector<bool> wants_ref_;
  uint32_t ref_count_ = 0;
  uint32_t cancels_in_ring_ = 0;
  uint64_t overflow_flushes_ = 0;
  uint64_t wakeups_ = 0;
  bool retry_flush_ = false;
  bool js_gone_ = false;
  bool torn_down_ = false;
};

}  // namespace proactor

#endif  // PROACTOR_URING_ENV_RING_H
