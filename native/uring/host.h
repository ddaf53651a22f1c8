/*
 * UringHost: the io_uring of one Node environment (the main thread, or one worker thread), shared
 * by every queue (UringEngine) attached in that environment with the same ring options (sizes,
 * SQPOLL). What every mechanism's host does (engine registry, wakeup, blocking pool, dispatch
 * into JS, teardown) is EnvHost's (../common/env_host.h); this is what is io_uring's own:
 *
 * - the kernel ring (KernelRing), with the environment's wakeup eventfd registered with it
 *   (IORING_REGISTER_EVENTFD), so that every CQE wakes the loop;
 * - the SQ backlog: SQEs a full or busy SQ could not take, submitted from the wakeup callback;
 * - the sparse registered-buffer and registered-file tables whose index ranges it hands to its
 *   queues, released only once the kernel consumed every SQE that may name them;
 * - SQPOLL: the personality of changed credentials.
 *
 * user_data of SQEs is the operation's tag (OperationTag, ../common/engine_core.h); cancels carry
 * kNoOperationTag.
 */
#ifndef PROACTOR_URING_HOST_H
#define PROACTOR_URING_HOST_H

#include <napi.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "../common/env_host.h"
#include "kernel_ring.h"

namespace proactor {

/* Ring sizes. The defaults keep the rings at about 64 KiB, under the 64 KiB RLIMIT_MEMLOCK that
 * kernels before 5.12 charge them to; a full SQ is flushed and a full CQ spills into the
 * kernel's overflow list, so bigger batches only cost an extra io_uring_enter. */
struct UringConfig {
  unsigned sq_entries = 512;
  unsigned cq_entries = 2048;
  /* IORING_SETUP_SQPOLL (opt-in): SQPOLL and plain queues never share a ring. */
  bool sqpoll = false;
  unsigned sq_idle_ms = 50;
  bool operator==(const UringConfig& other) const {
    return sq_entries == other.sq_entries && cq_entries == other.cq_entries && sqpoll == other.sqpoll &&
           (!sqpoll || sq_idle_ms == other.sq_idle_ms);
  }
};

/* The registered-resource tables of a ring. */
enum class RsrcKind : uint8_t { Buffers = 0, Files = 1 };

class UringHost final : public EnvHost {
 public:
  /* The io_uring host of `env` with `config`, created on first use; throws a Napi::Error
   * carrying code / errno / syscall when io_uring cannot be set up. */
  static UringHost* Get(Napi::Env env, const UringConfig& config);

  ~UringHost() override;

  KernelRing& ring() { return ring_; }

  /* Queues `sqe` for the kernel: into the SQ (flushed first when full), or, when the kernel
   * takes nothing now (EBUSY/EAGAIN), into a backlog submitted from the wakeup callback. */
  void Push(const io_uring_sqe& sqe);
  /* Whether `n` SQEs pushed now land next to each other in one submission (a linked pair must
   * not be split across two: the kernel ends a link at the end of a submission). Flushes when
   * the SQ is too full. */
  bool RoomFor(unsigned n) {
    if (!backlog_.empty()) return false;
    if (ring_.SqSpace() < n) Flush();
    return backlog_.empty() && ring_.SqSpace() >= n;
  }
  /* Hands the queued SQEs to the kernel (retried from the wakeup callback when it is busy). */
  void Flush() override;
  /* Cancels the operation tagged `tag` (TIMEOUT_REMOVE for timers). */
  void QueueCancel(uint64_t tag, bool timer);
  /* Cancels every operation in the ring waiting on descriptor `fd` (Linux 5.19; a no-op before). */
  void QueueCancelFd(int fd);

  const char* kind() const override { return "io_uring"; }
  /* SQPOLL: checks the credentials (see CheckCredentials). */
  void BeforeSubmit() override { CheckCredentials(); }
  /* Blocks (io_uring_enter with IORING_ENTER_GETEVENTS) until a completion may be available
   * or `timeout_ns` (< 0: no limit) passed; UV_ETIMEDOUT on timeout, 0, or -errno. */
  int Wait(int64_t timeout_ns) override;
  const char* wait_syscall() const override { return "io_uring_enter"; }

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

 private:
  UringHost(napi_env env, const UringConfig& config) : EnvHost(env, "proactor:io_uring"), config_(config) {}
  void OpenMechanism(Napi::Env env) override;
  void ConnectWakeup(Napi::Env env) override;
  /* Completions from the CQ ring and its overflow list, to their engines. */
  void ReapMechanism() override;
  void OnWake() override;
  void CancelAndDrain() override;
  void CloseMechanism() override;
  void Route(uint64_t tag, int32_t result, uint32_t flags);
  /* KernelRing's LinkCutHandler: the SQE tagged `tag` was taken out of a chain a short
   * submission cut (kernel_ring.h), to its engine. */
  static void OnLinkCut(void* context, uint64_t tag);
  /* Moves backlogged SQEs into the SQ and flushes. */
  void DrainBacklog();
  /* Applies the pending releases whose SQEs were all consumed. */
  void ApplyReleases();
  /* Clears [base, base + n) of a table now. 0 or -errno. */
  int ClearRange(RsrcKind kind, uint32_t base, uint32_t n);
  /* Calls the table's update opcode for [base, base + n) until all were taken. 0 or -errno;
   * `*done` receives how many were updated. */
  int UpdateRange(RsrcKind kind, const void* entries, uint32_t base, uint32_t n, uint32_t* done);

  UringConfig config_;
  KernelRing ring_;

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
  uint32_t cancels_in_ring_ = 0;
  uint64_t overflow_flushes_ = 0;
  bool retry_flush_ = false;
};

}  // namespace proactor

#endif  // PROACTOR_URING_HOST_H
