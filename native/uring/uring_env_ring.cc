#include "uring_env_ring.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "uring_engine.h"
#include "../common/js_ring.h"
#include "../common/system_error.h"

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

/* The addon's per-environment data: its rings, one per configuration. */
struct EnvRings {
  std::vector<std::unique_ptr<EnvRing>> rings;
};

EnvRings* RingsOf(napi_env env) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) == napi_ok && data != nullptr) return static_cast<EnvRings*>(data);
  auto* rings = new EnvRings();
  napi_status status = napi_set_instance_data(
      env, rings, [](napi_env, void* d, void*) { delete static_cast<EnvRings*>(d); }, nullptr);
  if (status != napi_ok) {
    delete rings;
    return nullptr;
  }
  return rings;
}

}  // namespace

void EnvRing::UniqueFd::Reset() {
  if (fd >= 0) close(fd);
  fd = -1;
}

EnvRing* EnvRing::Get(Napi::Env env, const EnvRingConfig& config) {
  EnvRings* rings = RingsOf(env);
  if (rings == nullptr) throw Napi::Error::New(env, "napi_set_instance_data failed");
  for (const auto& ring : rings->rings) {
    if (ring->config_ == config && !ring->torn_down_) return ring.get();
  }
  std::unique_ptr<EnvRing> ring(new EnvRing(env, config));
  ring->Open(env);
  rings->rings.push_back(std::move(ring));
  return rings->rings.back().get();
}

EnvRing::EnvRing(Napi::Env env, const EnvRingConfig& config) : env_(env), config_(config) {}

void EnvRing::Open(Napi::Env env) {
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

  eventfd_.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (eventfd_.fd < 0) throw SystemError(env, -errno, "eventfd");
  r = ring_.RegisterEventfd(eventfd_.fd);
  if (r < 0) throw SystemError(env, r, "io_uring_register");
  r = poll_.Start(env, eventfd_.fd, &EnvRing::OnReadable, this);
  if (r < 0) throw SystemError(env, r, "uv_poll_start");
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "proactor:io_uring");
  pool_ = std::make_unique<BlockingPool>(
      4, [](void* fd) { eventfd_write(*static_cast<int*>(fd), 1); }, &eventfd_.fd);
  if (napi_add_async_cleanup_hook(env, &EnvRing::OnEnvCleanup, this, &cleanup_hook_) != napi_ok) {
    cleanup_hook_ = nullptr;
    throw Napi::Error::New(env, "napi_add_async_cleanup_hook failed");
  }
}

EnvRing::~EnvRing() { Teardown(nullptr, nullptr); }

uint16_t EnvRing::Register(Napi::Env env, UringEngine* engine) {
  if (!free_ids_.empty()) {
    uint16_t id = free_ids_.back();
    free_ids_.pop_back();
    engines_[id] = engine;
    wants_ref_[id] = false;
    return id;
  }
  if (engines_.size() >= 0xFFFF) throw Napi::RangeError::New(env, "too many io_uring queues in this environment");
  engines_.push_back(engine);
  wants_ref_.push_back(false);
  return static_cast<uint16_t>(engines_.size() - 1);
}

void EnvRing::Unregister(uint16_t id) {
  if (id >= engines_.size() || engines_[id] == nullptr) return;
  SetWantsRef(id, false);
  engines_[id] = nullptr;
  free_ids_.push_back(id);
}

void EnvRing::SetWantsRef(uint16_t id, bool wants) {
  if (id >= wants_ref_.size() || wants_ref_[id] == wants) return;
  wants_ref_[id] = wants;
  ref_count_ = wants ? ref_count_ + 1 : ref_count_ - 1;
  poll_.SetRef(ref_count_ > 0);
}

void EnvRing::Push(const io_uring_sqe& sqe) {
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

void EnvRing::DrainBacklog() {
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

void EnvRing::Flush() {
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
  for (uint64_t user_data : failed) Route(user_data, r);
  Wake();
}

void EnvRing::QueueCancel(uint64_t user_data, bool timer) {
  io_uring_sqe q;
  std::memset(&q, 0, sizeof q);
  q.opcode = timer ? IORING_OP_TIMEOUT_REMOVE : IORING_OP_ASYNC_CANCEL;
  q.addr = user_data;
  q.user_data = kCancelUserData;
  cancels_in_ring_++;
  Push(q);
}

void EnvRing::QueueCancelFd(int fd) {
  if (!ring_.Supports(IORING_OP_ASYNC_CANCEL)) return;
  io_uring_sqe q;
  std::memset(&q, 0, sizeof q);
  q.opcode = IORING_OP_ASYNC_CANCEL;
  q.fd = fd;
  q.cancel_flags = PROACTOR_IORING_ASYNC_CANCEL_FD | PROACTOR_IORING_ASYNC_CANCEL_ALL;
  q.user_data = kCancelUserData;
  cancels_in_ring_++;
  Push(q);
}

void EnvRing::Wake() { eventfd_write(eventfd_.fd, 1); }

// ---- completion ----------------------------------------------------------------------------

void EnvRing::OnReadable(void* self) {
  // libuv calls this from C: no C++ exception may unwind through its frames. Nothing below
  // throws by design (Node-API calls are checked, not wrapped), so one that does is a bug of
  // this addon: stop with its message instead of undefined behaviour.
  try {
    static_cast<EnvRing*>(self)->DeliverFromLoop();
  } catch (const std::exception& e) {
    napi_fatal_error("proactor:io_uring", NAPI_AUTO_LENGTH, e.what(), NAPI_AUTO_LENGTH);
  } catch (...) {
    napi_fatal_error("proactor:io_uring", NAPI_AUTO_LENGTH, "unknown exception", NAPI_AUTO_LENGTH);
  }
}

void EnvRing::DeliverFromLoop() {
  EnvRing* ring = this;
  if (ring->torn_down_ || ring->js_gone_) return;
  ring->wakeups_++;
  eventfd_t value;
  (void)eventfd_read(ring->eventfd_.fd, &value);  // EAGAIN: nothing to reset
  ring->CheckCredentials();
  if (ring->retry_flush_) {
    ring->retry_flush_ = false;
    ring->DrainBacklog();
  }
  Napi::Env env(ring->env_);
  Napi::HandleScope scope(env);
  // Microtasks and nextTicks run when this scope closes: after every batch was delivered.
  CompletionScope callback_scope(env, *ring->async_context_);
  napi_value exception = nullptr;
  ring->Dispatch(env, nullptr, &exception);
  // Nothing on the stack can catch it: report it like any uncaught exception.
  if (exception != nullptr) napi_fatal_exception(env, exception);
}

uint32_t EnvRing::Dispatch(Napi::Env env, UringEngine* focus, napi_value* exception) {
  *exception = nullptr;
  uint32_t focus_delivered = 0;
  for (;;) {
    Reap();
    bool delivered = false;
    // Engines may be added or removed by the callbacks: index, and re-read each time.
    for (size_t i = 0; i < engines_.size() && !torn_down_; i++) {
      UringEngine* engine = engines_[i];
      if (engine == nullptr || !engine->HasReady() || engine->InComplete()) continue;
      bool js_gone = false;
      uint32_t n = engine->DeliverReady(env, exception, &js_gone);
      delivered = delivered || n > 0;
      if (engine == focus) focus_delivered += n;
      if (js_gone) {
        // JS cannot run here any more (a terminating worker): the cleanup hook frees the ring.
        js_gone_ = true;
        return focus_delivered;
      }
      if (*exception != nullptr) {
        Wake();  // the rest is delivered from the next poll callback
        return focus_delivered;
      }
    }
    if (!delivered || torn_down_) return focus_delivered;
  }
}

void EnvRing::Reap() {
  if (torn_down_) return;
  if (!backlog_.empty()) DrainBacklog();
  (void)ring_.RunTaskWork();
  if (!releases_.empty()) ApplyReleases();
  std::vector<BlockingPool::Result> results;
  pool_->TakeResults(&results);
  for (const auto& r : results) Route(r.first, static_cast<int32_t>(r.second));
  for (;;) {
    unsigned ready = ring_.CqReady();
    for (unsigned k = 0; k < ready; k++) {
      const io_uring_cqe& cqe = ring_.CqeAt(k);
      Route(cqe.user_data, cqe.res, cqe.flags);
    }
    ring_.CqAdvance(ready);
    if (ready > 0) continue;
    // Completions the CQ ring had no room for wait in the kernel's overflow list: with
    // IORING_FEAT_NODROP, entering with GETEVENTS moves them into the ring.
    if (!ring_.CqOverflowed()) break;
    overflow_flushes_++;
    if (ring_.Enter(true, 0, -1) < 0 || ring_.CqReady() == 0) break;
  }
  for (UringEngine* engine : engines_) {
    if (engine != nullptr) engine->ProcessLocal();
  }
}

void EnvRing::Route(uint64_t user_data, int32_t result, uint32_t flags) {
  if (user_data == kCancelUserData) {
    cancels_in_ring_--;
    return;
  }
  uint16_t id = static_cast<uint16_t>(user_data >> 16);
  if (id >= engines_.size() || engines_[id] == nullptr) return;
  engines_[id]->OnCompletion(static_cast<uint16_t>(user_data), static_cast<uint32_t>(user_data >> 32), result,
                             flags);
}

int EnvRing::Wait(int64_t timeout_ns) {
  if (pool_->Outstanding() > 0) {
    // Pool results arrive through the eventfd, not the CQ ring: wait on the eventfd (which
    // every CQE signals too), reset first so that only what comes from now on wakes us; the
    // caller dispatches everything available afterwards, so no wake-up is lost.
    ring_.Enter(false, 0, -1);
    eventfd_t value;
    (void)eventfd_read(eventfd_.fd, &value);
    if (ring_.CqReady() > 0 || pool_->HasResults()) return 0;
    struct pollfd p = {eventfd_.fd, POLLIN, 0};
    int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999999) / 1000000);
    int r = poll(&p, 1, ms);
    if (r < 0) return errno == EINTR ? 0 : -errno;
    return r == 0 ? -ETIME : 0;
  }
  int r = ring_.Enter(true, 1, timeout_ns);
  if (r == -EOPNOTSUPP) {
    // No IORING_FEAT_EXT_ARG (Linux < 5.11): a bounded wait polls the eventfd instead.
    struct pollfd p = {eventfd_.fd, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>((timeout_ns + 999999) / 1000000));
    if (n < 0) return errno == EINTR ? 0 : -errno;
    return n == 0 ? -ETIME : 0;
  }
  if (r == -EINTR || r == -EBUSY || r == -EAGAIN) return 0;
  return r;
}

// ---- teardown ------------------------------------------------------------------------------

void EnvRing::Teardown(LoopPoll::Closed closed, void* closed_arg) {
  if (torn_down_) {
    if (closed != nullptr) closed(closed_arg);
    return;
  }
  torn_down_ = true;
  CancelAndDrain();
  // Pool jobs write into buffers and engine memory: let them finish before anything goes.
  pool_.reset();
  for (UringEngine* engine : engines_) {
    if (engine != nullptr) engine->Detach();
  }
  engines_.clear();
  if (poll_.IsActive()) {
    poll_.Close(closed, closed_arg);
  } else if (closed != nullptr) {
    closed(closed_arg);
  }
  ring_.Close();
  eventfd_.Reset();
  // While the environment can still take it (napi_async_destroy), not in a late finalizer.
  async_context_.reset();
  if (cleanup_hook_ != nullptr) {
    napi_remove_async_cleanup_hook(cleanup_hook_);
    cleanup_hook_ = nullptr;
  }
}

void EnvRing::CancelAndDrain() {
  if (!ring_.IsOpen()) return;
  DrainBacklog();
  for (UringEngine* engine : engines_) {
    if (engine != nullptr) engine->CancelInRing();
  }
  ring_.Enter(false, 0, -1);
  const auto give_up = std::chrono::steady_clock::now() + kDrainLimit;
  for (;;) {
    unsigned ready = ring_.CqReady();
    for (unsigned k = 0; k < ready; k++) Route(ring_.CqeAt(k).user_data, ring_.CqeAt(k).res, ring_.CqeAt(k).flags);
    ring_.CqAdvance(ready);
    if (ready == 0 && ring_.CqOverflowed()) ring_.Enter(true, 0, -1);
    bool busy = cancels_in_ring_ > 0;
    for (UringEngine* engine : engines_) busy = busy || (engine != nullptr && engine->HasRingOps());
    if (!busy || std::chrono::steady_clock::now() >= give_up) break;
    int r = ring_.Enter(true, 1, 100 * 1000 * 1000);
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EOPNOTSUPP) break;
  }
}

// ---- registered buffers and files ---------------------------------------------------------

int EnvRing::UpdateRange(RsrcKind kind, const void* entries, uint32_t base, uint32_t n, uint32_t* done) {
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

int EnvRing::ClearRange(RsrcKind kind, uint32_t base, uint32_t n) {
  if (!ring_.IsOpen()) return 0;  // closing the ring dropped every registration
  uint32_t done = 0;
  if (kind == RsrcKind::Buffers) {
    std::vector<struct iovec> empty(n, iovec{nullptr, 0});
    return UpdateRange(kind, empty.data(), base, n, &done);
  }
  std::vector<int32_t> empty(n, -1);
  return UpdateRange(kind, empty.data(), base, n, &done);
}

int EnvRing::RegisterRange(RsrcKind kind, const void* entries, uint32_t n, uint32_t* base) {
  if (torn_down_ || !ring_.IsOpen()) return -EBADF;
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

void EnvRing::ReleaseRange(RsrcKind kind, uint32_t base, uint32_t n) {
  if (n == 0 || torn_down_) return;
  releases_.push_back({kind, base, n, pushed_total_});
  ApplyReleases();
}

void EnvRing::ApplyReleases() {
  if (torn_down_ || !ring_.IsOpen()) {
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

void EnvRing::SettleReleases() {
  if (torn_down_ || !ring_.IsOpen()) return;
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

void EnvRing::CheckCredentials() {
  if (!ring_.sqpoll() || torn_down_ || !ring_.IsOpen()) return;
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

void EnvRing::OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* self) {
  auto* ring = static_cast<EnvRing*>(self);
  // The hook is removed once the poll handle has closed (below), not by Teardown.
  ring->cleanup_hook_ = nullptr;
  ring->Teardown([](void* h) { napi_remove_async_cleanup_hook(static_cast<napi_async_cleanup_hook_handle>(h)); },
                 handle);
  // The torn-down ring stays in the registry; the instance data's finalizer frees it.
}

}  // namespace proactor
