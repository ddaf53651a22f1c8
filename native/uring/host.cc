#include "host.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../common/engine_core.h"
#include "../common/fault_schedule.h"
#include "../common/system_error.h"
#include "engine.h"

namespace proactor {

namespace {

/* How long environment teardown waits for cancelled operations before giving up on them. */
constexpr auto kDrainLimit = std::chrono::seconds(10);

/* Registered-table sizes: the kernel's limit for buffers (IORING_MAX_REG_BUFFERS); files are
 * also limited by RLIMIT_NOFILE (the kernel refuses a bigger table with EMFILE). */
constexpr uint32_t kBufferTableSize = 1u << 14;
constexpr uint32_t kFileTableSize = 1u << 14;

/* How long SettleReleases() waits for an SQPOLL thread to consume the SQ. */
constexpr auto kSettleLimit = std::chrono::milliseconds(100);

}  // namespace

UringHost* UringHost::Get(Napi::Env env, const UringConfig& config) {
  EnvHost* found = Find(env, [&](EnvHost& host) {
    return std::strcmp(host.kind(), "io_uring") == 0 && static_cast<UringHost&>(host).config_ == config;
  });
  if (found != nullptr) return static_cast<UringHost*>(found);
  return static_cast<UringHost*>(Adopt(env, std::unique_ptr<EnvHost>(new UringHost(env, config))));
}

void UringHost::OpenMechanism(Napi::Env env) {
  RingSetup setup;
  setup.sq_entries = config_.sq_entries;
  setup.cq_entries = config_.cq_entries;
  setup.sqpoll = config_.sqpoll;
  setup.sq_idle_ms = config_.sq_idle_ms;
  {
    const char* defer = getenv("PROACTOR_URING_DEFER_TASKRUN");
    setup.defer_taskrun = defer != nullptr && defer[0] == '1';
  }
  const char* syscall = "io_uring_setup";
  int r = ring_.Open(setup, &syscall);
  if (r < 0) throw SystemError(env, r, syscall);
  creator_uid_ = cred_uid_ = geteuid();
  creator_gid_ = cred_gid_ = getegid();
  ring_.SetLinkCutHandler(&UringHost::OnLinkCut, this);
}

void UringHost::OnLinkCut(void* context, uint64_t tag) {
  auto* host = static_cast<UringHost*>(context);
  if (tag == kNoOperationTag) return;  // cancels are never linked
  EngineCore* engine = host->engine(TagEngine(tag));
  if (engine != nullptr) static_cast<UringEngine*>(engine->driver())->OnLinkCut(tag);
}

void UringHost::ConnectWakeup(Napi::Env env) {
  // Every CQE signals the environment's wakeup (an eventfd).
  int r = ring_.RegisterEventfd(wakeup().descriptor());
  if (r < 0) throw SystemError(env, r, "io_uring_register");
}

UringHost::~UringHost() { Teardown(nullptr, nullptr); }

void UringHost::Push(const io_uring_sqe& sqe) {
  pushed_total_++;
  io_uring_sqe* q = backlog_.empty() ? ring_.NextSqe() : nullptr;
  if (q == nullptr && backlog_.empty()) {
    Flush();
    q = ring_.NextSqe();
  }
  if (q == nullptr) {
    backlog_.push_back(sqe);
    if (personality_ != 0) backlog_.back().personality = personality_;
    retry_flush_ = true;
    Wake();
    return;
  }
  std::memcpy(q, &sqe, sizeof sqe);
  if (personality_ != 0) q->personality = personality_;
}

void UringHost::DrainBacklog() {
  while (!backlog_.empty()) {
    io_uring_sqe* q = ring_.NextSqe();
    if (q == nullptr) {
      Flush();
      q = ring_.NextSqe();
      if (q == nullptr) return;  // still busy: the next poll callback tries again
    }
    std::memcpy(q, &backlog_.front(), sizeof *q);
    backlog_.pop_front();
  }
  Flush();
}

void UringHost::Flush() {
  int r = ring_.Enter(false, 0, -1);
  if (r >= 0) {
    if (!releases_.empty()) ApplyReleases();
    return;
  }
  if (r == -EBUSY || r == -EAGAIN) {
    // The kernel takes no more until completions are reaped: retry from the poll callback.
    retry_flush_ = true;
    Wake();
    return;
  }
  // Anything else means the kernel will not take these SQEs at all: each operation fails
  // with the error instead of waiting forever. Routed after the SQ is consistent again.
  std::vector<uint64_t> failed;
  ring_.DiscardPending(&failed);
  for (uint64_t user_data : failed) Route(user_data, r, 0);
  Wake();
}

void UringHost::QueueCancel(uint64_t tag, bool timer) {
  io_uring_sqe q;
  std::memset(&q, 0, sizeof q);
  q.opcode = timer ? IORING_OP_TIMEOUT_REMOVE : IORING_OP_ASYNC_CANCEL;
  q.addr = tag;
  q.user_data = kNoOperationTag;
  cancels_in_ring_++;
  Push(q);
}

void UringHost::QueueCancelFd(int fd) {
  if (!ring_.Supports(IORING_OP_ASYNC_CANCEL)) return;
  io_uring_sqe q;
  std::memset(&q, 0, sizeof q);
  q.opcode = IORING_OP_ASYNC_CANCEL;
  q.fd = fd;
  q.cancel_flags = PROACTOR_IORING_ASYNC_CANCEL_FD | PROACTOR_IORING_ASYNC_CANCEL_ALL;
  q.user_data = kNoOperationTag;
  cancels_in_ring_++;
  Push(q);
}

// ---- completion ----------------------------------------------------------------------------

void UringHost::OnWake() {
  CheckCredentials();
  if (retry_flush_) {
    retry_flush_ = false;
    DrainBacklog();
  }
}

void UringHost::ReapMechanism() {
  if (!backlog_.empty()) DrainBacklog();
  (void)ring_.RunTaskWork();
  if (!releases_.empty()) ApplyReleases();
  for (;;) {
    unsigned ready = ring_.CqReady();
    // Fault injection (test builds): only the first half is seen now, the rest as if it had
    // spilled into the overflow list, to be had by the flush below.
    const bool spilled = ready > 1 && InjectFault(FaultSite::uring_cq_overflow);
    if (spilled) ready /= 2;
    for (unsigned k = 0; k < ready; k++) {
      const io_uring_cqe& cqe = ring_.CqeAt(k);
      Route(cqe.user_data, cqe.res, cqe.flags);
    }
    ring_.CqAdvance(ready);
    if (ready > 0 && !spilled) continue;
    // Completions the CQ ring had no room for wait in the kernel's overflow list: with
    // IORING_FEAT_NODROP, entering with GETEVENTS moves them into the ring.
    if (!ring_.CqOverflowed() && !spilled) break;
    overflow_flushes_++;
    if (ring_.Enter(true, 0, -1) < 0) {
      // The kernel could not flush them now (EBUSY, EAGAIN): no new completion may come to
      // signal the wakeup, so signal it ourselves and try again from the next loop turn.
      Wake();
      break;
    }
    if (ring_.CqReady() == 0) break;
  }
}

void UringHost::Route(uint64_t tag, int32_t result, uint32_t flags) {
  if (tag == kNoOperationTag) {
    cancels_in_ring_--;
    return;
  }
  EngineCore* engine = this->engine(TagEngine(tag));
  // Every engine of a UringHost is a UringEngine.
  if (engine != nullptr) static_cast<UringEngine*>(engine->driver())->OnCompletion(tag, result, flags);
}

int UringHost::Wait(int64_t timeout_ns) {
  const int eventfd = wakeup().descriptor();
  if (pool().Outstanding() > 0) {
    // Pool results arrive through the eventfd, not the CQ ring: wait on the eventfd (which
    // every CQE signals too), reset first so that only what comes from now on wakes us; the
    // caller dispatches everything available afterwards, so no wake-up is lost.
    ring_.Enter(false, 0, -1);
    wakeup().Clear();
    if (ring_.CqReady() > 0 || pool().HasResults()) return 0;
    struct pollfd p = {eventfd, POLLIN, 0};
    int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999999) / 1000000);
    int r = poll(&p, 1, ms);
    if (r < 0) return errno == EINTR ? 0 : -errno;
    return r == 0 ? UV_ETIMEDOUT : 0;
  }
  int r = ring_.Enter(true, 1, timeout_ns);
  if (r == -EOPNOTSUPP) {
    // No IORING_FEAT_EXT_ARG (Linux < 5.11): a bounded wait polls the eventfd instead.
    struct pollfd p = {eventfd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>((timeout_ns + 999999) / 1000000));
    if (n < 0) return errno == EINTR ? 0 : -errno;
    return n == 0 ? UV_ETIMEDOUT : 0;
  }
  if (r == -EINTR || r == -EBUSY || r == -EAGAIN) return 0;
  return r == -ETIME ? UV_ETIMEDOUT : r;
}

// ---- teardown ------------------------------------------------------------------------------

void UringHost::CloseMechanism() { ring_.Close(); }

void UringHost::CancelAndDrain() {
  if (!ring_.IsOpen()) return;
  DrainBacklog();
  for (EngineCore* engine : engines()) {
    if (engine != nullptr) engine->CancelSubmitted();
  }
  ring_.Enter(false, 0, -1);
  const auto give_up = std::chrono::steady_clock::now() + kDrainLimit;
  for (;;) {
    unsigned ready = ring_.CqReady();
    for (unsigned k = 0; k < ready; k++) Route(ring_.CqeAt(k).user_data, ring_.CqeAt(k).res, ring_.CqeAt(k).flags);
    ring_.CqAdvance(ready);
    if (ready == 0 && ring_.CqOverflowed()) ring_.Enter(true, 0, -1);
    bool busy = cancels_in_ring_ > 0;
    for (EngineCore* engine : engines()) busy = busy || (engine != nullptr && engine->HasSubmitted());
    if (!busy || std::chrono::steady_clock::now() >= give_up) break;
    int r = ring_.Enter(true, 1, 100 * 1000 * 1000);
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EOPNOTSUPP) break;
  }
}

// ---- registered buffers and files ---------------------------------------------------------

int UringHost::UpdateRange(RsrcKind kind, const void* entries, uint32_t base, uint32_t n, uint32_t* done) {
  const unsigned op =
      kind == RsrcKind::Buffers ? PROACTOR_IORING_REGISTER_BUFFERS_UPDATE : PROACTOR_IORING_REGISTER_FILES_UPDATE2;
  const size_t entry_size = kind == RsrcKind::Buffers ? sizeof(struct iovec) : sizeof(int32_t);
  *done = 0;
  while (*done < n) {
    RsrcUpdate2 update;
    std::memset(&update, 0, sizeof update);
    update.offset = base + *done;
    update.data = reinterpret_cast<uint64_t>(static_cast<const char*>(entries) + *done * entry_size);
    update.nr = n - *done;
    // The kernel stops at the first entry it refuses and returns how many it took: the call
    // for that entry alone then returns its error.
    int r = ring_.Register(op, &update, sizeof update);
    if (r == -EINTR) continue;
    if (r < 0) return r;
    if (r == 0) return -EIO;
    *done += static_cast<uint32_t>(r);
  }
  return 0;
}

int UringHost::ClearRange(RsrcKind kind, uint32_t base, uint32_t n) {
  if (!ring_.IsOpen()) return 0;  // closing the ring dropped every registration
  uint32_t done = 0;
  if (kind == RsrcKind::Buffers) {
    std::vector<struct iovec> empty(n, iovec{nullptr, 0});
    return UpdateRange(kind, empty.data(), base, n, &done);
  }
  std::vector<int32_t> empty(n, -1);
  return UpdateRange(kind, empty.data(), base, n, &done);
}

int UringHost::RegisterRange(RsrcKind kind, const void* entries, uint32_t n, uint32_t* base) {
  if (torn_down() || !ring_.IsOpen()) return -EBADF;
  RsrcTable& table = tables_[static_cast<int>(kind)];
  if (!table.created) {
    uint32_t size = kind == RsrcKind::Buffers ? kBufferTableSize : kFileTableSize;
    if (kind == RsrcKind::Files) {
      struct rlimit limit;
      if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < size) {
        size = static_cast<uint32_t>(limit.rlim_cur);
      }
    }
    if (size == 0) return -EMFILE;
    RsrcRegister reg;
    std::memset(&reg, 0, sizeof reg);
    reg.nr = size;
    reg.flags = PROACTOR_IORING_RSRC_REGISTER_SPARSE;
    unsigned op = kind == RsrcKind::Buffers ? PROACTOR_IORING_REGISTER_BUFFERS2 : PROACTOR_IORING_REGISTER_FILES2;
    int r;
    do r = ring_.Register(op, &reg, sizeof reg);
    while (r == -EINTR);
    if (r < 0) return r;
    table.created = true;
    table.size = size;
    table.used.assign(size, false);
  }
  if (n == 0 || n > table.size) return n == 0 ? -EINVAL : -ENOSPC;
  auto find = [&]() -> int64_t {
    uint32_t run = 0;
    for (uint32_t i = 0; i < table.size; i++) {
      run = table.used[i] ? 0 : run + 1;
      if (run == n) return static_cast<int64_t>(i + 1 - n);
    }
    return -1;
  };
  int64_t at = find();
  if (at < 0 && !releases_.empty()) {
    SettleReleases();
    at = find();
  }
  if (at < 0) return -ENOSPC;
  const uint32_t first = static_cast<uint32_t>(at);
  uint32_t done = 0;
  int r = UpdateRange(kind, entries, first, n, &done);
  if (r < 0) {
    // Nothing has used the entries taken so far: clear them right away.
    if (done > 0 && ClearRange(kind, first, done) < 0) {
      for (uint32_t i = first; i < first + done; i++) table.used[i] = true;  // lost, never reused
    }
    return r;
  }
  for (uint32_t i = first; i < first + n; i++) table.used[i] = true;
  *base = first;
  return 0;
}

void UringHost::ReleaseRange(RsrcKind kind, uint32_t base, uint32_t n) {
  if (n == 0 || torn_down()) return;
  releases_.push_back({kind, base, n, pushed_total_});
  ApplyReleases();
}

void UringHost::ApplyReleases() {
  if (torn_down() || !ring_.IsOpen()) {
    releases_.clear();
    return;
  }
  const uint64_t consumed = pushed_total_ - backlog_.size() - ring_.SqPending();
  for (size_t i = 0; i < releases_.size();) {
    const PendingRelease release = releases_[i];
    if (release.after > consumed) {
      i++;
      continue;
    }
    releases_.erase(releases_.begin() + static_cast<std::ptrdiff_t>(i));
    // On failure the indexes stay marked used: never handed out again while the kernel may
    // still hold what they name.
    if (ClearRange(release.kind, release.base, release.n) == 0) {
      RsrcTable& table = tables_[static_cast<int>(release.kind)];
      for (uint32_t k = release.base; k < release.base + release.n && k < table.size; k++) table.used[k] = false;
    }
  }
}

void UringHost::SettleReleases() {
  if (torn_down() || !ring_.IsOpen()) return;
  if (!backlog_.empty()) {
    DrainBacklog();
  } else {
    Flush();
  }
  if (ring_.sqpoll() && ring_.SqPending() > 0) {
    const auto give_up = std::chrono::steady_clock::now() + kSettleLimit;
    while (ring_.SqPending() > 0 && std::chrono::steady_clock::now() < give_up) {
      int r = ring_.Enter(false, 0, -1);
      if (r < 0 && r != -EBUSY) break;
      sched_yield();
    }
  }
  ApplyReleases();
}

void UringHost::CheckCredentials() {
  if (!ring_.sqpoll() || torn_down() || !ring_.IsOpen()) return;
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  if (uid == cred_uid_ && gid == cred_gid_ && credentials_error_ == 0) return;
  // Personalities are never unregistered: an SQE not yet consumed may name one. Closing the
  // ring frees them; credential changes are rare.
  credentials_error_ = 0;
  if (uid == creator_uid_ && gid == creator_gid_) {
    personality_ = 0;
  } else {
    int r;
    do r = ring_.Register(PROACTOR_IORING_REGISTER_PERSONALITY, nullptr, 0);
    while (r == -EINTR);
    if (r < 0) {
      credentials_error_ = r;
      return;
    }
    personality_ = static_cast<uint16_t>(r);
  }
  cred_uid_ = uid;
  cred_gid_ = gid;
}

}  // namespace proactor
