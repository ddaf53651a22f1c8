/*
 * EngineCore: what every native engine of an aio-core queue needs, whatever its mechanism
 * (io_uring, a readiness reactor, IOCP). One EngineCore per queue; the mechanism is an
 * EngineDriver (per queue) plus an EnvHost (per environment, see env_host.h).
 *
 * The core owns:
 * - the slot table: each slot's operation (decoded once, operation.h), its generation (a result
 *   or cancel for an earlier operation of a reused slot is ignored), where it is;
 * - linked chains: the head starts, each member starts when its predecessor succeeded, an error
 *   or a short transfer completes the rest with UV_ECANCELED; cancelling a member that has not
 *   started ends it and those after it, never those before. (Sequenced here, not with a kernel's
 *   links: a kernel cannot cancel a linked request without failing the one it waits for, and a
 *   chain may mix kernel and pool members. Cost: one completion round trip per member, no JS.)
 * - results no operation ends with: accept's ECONNABORTED (a connection that went away before
 *   it was taken: the accept starts again, as libuv's does), and a short read or write (readv,
 *   writev) of a regular file (continued until every byte moved, end of file or an error:
 *   ContinuesShortTransfer, operation.h);
 * - results decided without the mechanism (PostLocal / ProcessLocal): argument errors, plain
 *   calls made at launch, cancelled chain members;
 * - the blocking pool path: Start::Blocking runs Call(operation) on the environment's pool;
 * - per-descriptor counts of operations waiting in the mechanism, so that closing a descriptor
 *   through the queue first ends them (EngineDriver::CancelDescriptor), and of reads and writes
 *   there, which a close ends first too when the descriptor is a socket (they wait for the peer);
 * - batched delivery into the queue's completion buffer, at most one ACCEPT_MULTI item per slot
 *   per batch (a slot has one address record), provided buffers returned after the batch;
 * - ref/unref (the environment's wakeup handle is ref'd while a ref'd queue has operations in
 *   flight; the JS object is kept alive meanwhile) and waitSync's deadline loop.
 *
 * Threading: everything runs on the environment's JS thread. Results from the pool arrive
 * through EnvHost::Reap.
 */
#ifndef PROACTOR_COMMON_ENGINE_CORE_H
#define PROACTOR_COMMON_ENGINE_CORE_H

#include <napi.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "operation.h"
#include "queue_buffers.h"

namespace proactor {

class EnvHost;

/* The tag of an operation in a mechanism (io_uring's user_data, the pool's job tag):
 * generation << 32 | engine id << 16 | slot. Slots are < 65536 (aio-core's limit on entries)
 * and engine ids < 65535, so kNoOperationTag (all ones) never names an operation. */
constexpr uint64_t kNoOperationTag = ~uint64_t{0};

inline uint64_t OperationTag(uint32_t generation, uint16_t engine, uint16_t slot) {
  return (uint64_t{generation} << 32) | (uint64_t{engine} << 16) | slot;
}
inline uint16_t TagEngine(uint64_t tag) { return static_cast<uint16_t>(tag >> 16); }
inline uint16_t TagSlot(uint64_t tag) { return static_cast<uint16_t>(tag); }
inline uint32_t TagGeneration(uint64_t tag) { return static_cast<uint32_t>(tag >> 32); }

/* How a driver started an operation. */
enum class Start : uint8_t {
  Done,         /* decided now: the result is given (a plain call made at launch, an error) */
  Submitted,    /* handed to the mechanism, which reports its result through the core */
  /* A readiness engine tried the call, got EAGAIN, and parked the operation among the
   * descriptor's waiters until it is readable (writable); it retries then and reports the result
   * through Finish(). For the core it is in the mechanism like Submitted: Cancel() ends it,
   * CancelDescriptor() ends it before a close of op.fd, and it counts as waiting on op.fd. */
  WaitReadable,
  WaitWritable,
  Blocking,     /* run Call(operation) on the environment's blocking pool */
};

/*
 * A mechanism, per queue. Called by the core on the JS thread.
 */
class EngineDriver {
 public:
  virtual ~EngineDriver() = default;
  /* Starts `op` of `slot` (tag: OperationTag of its generation). Done: `*result` is its result. */
  virtual Start Launch(uint16_t slot, uint64_t tag, Operation& op, int32_t* result) = 0;
  /* Cancels a Submitted (or parked: Wait*) operation, best effort: its final result still comes (UV_ECANCELED,
   * or the real one if it won the race). */
  virtual void Cancel(uint16_t slot, uint64_t tag, const Operation& op) = 0;
  /* Ends every Submitted or parked operation waiting on `fd` (a close of `fd` is launched next). */
  virtual void CancelDescriptor(int fd) = 0;
  /* The mechanism's last word on a final result from it (e.g. its own poll bits, a timer's
   * expiry code), before the core fills records and files it. Default: unchanged. */
  virtual int32_t Settle(uint16_t /*slot*/, Operation& /*op*/, int32_t result) { return result; }
  /* A read, write, readv or writev the blocking pool ran met a non-blocking descriptor that was
   * not ready (UV_EAGAIN: a socket or a pipe, which a kernel ring or port would have waited on).
   * A readiness engine parks it until the descriptor is ready and retries it then (returns
   * WaitReadable / WaitWritable; the core counts it as waiting on op.fd, so a close through the
   * queue ends it first); Done ends it with `*result` (default: with UV_EAGAIN, as the call did). */
  virtual Start AwaitReady(uint16_t /*slot*/, uint64_t /*tag*/, Operation& /*op*/, int32_t* /*result*/) {
    return Start::Done;
  }
  /* Provided buffers whose data a complete() call handed over are free again. */
  virtual void BuffersDelivered(const std::vector<uint32_t>& /*ids*/) {}
  /* Keep the queue's JS object alive (operations in flight) or let it go. */
  virtual void KeepAlive(bool alive) = 0;
  /* The queue closed, or its environment is going away (`host_alive` false: the host already
   * dropped everything it had registered): release what the driver holds. */
  virtual void Release(bool host_alive) = 0;
};

class EngineCore {
 public:
  /* `name` is the mechanism's, for messages ("the io_uring engine is closed"). */
  EngineCore(EngineDriver* driver, const char* name) : driver_(driver), name_(name) {}
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  /* Binds the RingContext and joins `host`. Throws a JS error when they are unusable. */
  void Attach(Napi::Env env, Napi::Object ring, EnvHost* host);

  /* ---- the Engine interface of aio-core (backend.ts) ---- */
  void Submit(Napi::Env env, uint32_t count);
  uint32_t WaitSync(Napi::Env env, uint32_t min, double timeout_ms);
  void SetUserRef(bool ref);
  /* aio-core calls close() once every operation completed (possibly from inside complete():
   * delivery stops at closed). */
  void Close();
  /* The JS object is being finalized (without close()). */
  void Finalize();
  /* Generic diagnostics: inFlight, readyToDeliver, waitingDescriptors, multishotItems. */
  void FillInfo(Napi::Object out) const;

  /* ---- called by the mechanism ---- */
  /* The slot if `tag` names its current operation in the mechanism or the pool, else null. */
  const Operation* Active(uint64_t tag) const;
  /* A final result from the mechanism or the pool for a slot Active() returned. */
  void Finish(uint16_t slot, int32_t result);
  /* An item (a completion with PROACTOR_CQE_F_MORE) of a multishot operation. */
  void PostItem(uint16_t slot, int32_t result, uint16_t flags, uint32_t buffer);

  /* ---- called by the EnvHost ---- */
  void OnPoolResult(uint64_t tag, int64_t result);
  void ProcessLocal();
  bool HasReady() const { return !ready_.empty(); }
  bool InComplete() const { return in_complete_; }
  /* Hands the ready list to JS in batches the size of the completion buffer. Returns how many
   * were delivered; stops at an exception from complete() (`*exception`) or when JS cannot run
   * any more (`*js_gone`). Requires a HandleScope. */
  uint32_t DeliverReady(Napi::Env env, napi_value* exception, bool* js_gone);
  /* Cancels every operation in the mechanism (environment teardown). */
  void CancelSubmitted();
  bool HasSubmitted() const;
  /* The environment is going away: forget the host; nothing is delivered any more. */
  void Detach();

  uint16_t id() const { return id_; }
  EngineDriver* driver() const { return driver_; }
  EnvHost* host() const { return host_; }
  bool closed() const { return closed_; }
  const QueueBuffers& buffers() const { return buffers_; }
  /* Whether a Submitted operation waits on `fd`. */
  bool HasWaiting(int fd) const {
    return fd >= 0 && static_cast<size_t>(fd) < waiting_fds_.size() && waiting_fds_[fd] > 0;
  }
  /* Whether a Submitted read, write, readv or writev is in the mechanism on `fd`. */
  bool HasTransfers(int fd) const {
    return fd >= 0 && static_cast<size_t>(fd) < transfer_fds_.size() && transfer_fds_[fd] > 0;
  }

 private:
  struct Slot {
    bool busy = false;
    /* In the mechanism, on the blocking pool, waiting for its predecessor in a chain, or
     * already decided here. */
    enum class Where : uint8_t { Submitted, Pool, Sequenced, Local } where = Where::Submitted;
    uint32_t generation = 0;
    Operation op;
    OperationStorage storage;
    /* The descriptor the operation waits on, counted in waiting_fds_, or in transfer_fds_ when
     * `transfer` (-1: none). */
    int32_t waiting_fd = -1;
    bool transfer = false;
    /* The delivery batch that last handed over an item of this slot (see DeliverReady). */
    uint32_t delivered_batch = 0;
    /* Bytes a continued transfer moved before its current piece (see Continue). */
    uint64_t transferred = 0;
    /* A cancel was asked for: nothing is started again for this operation (see Continue). */
    bool cancel_requested = false;
    /* Chain head only: the members after it, in order. */
    std::shared_ptr<std::deque<uint16_t>> chain;
  };

  struct Result {
    uint16_t slot;
    uint16_t flags; /* PROACTOR_CQE_F_* */
    int32_t result;
    uint32_t buffer = 0;
  };

  void Launch(uint16_t slot);
  void QueueCancel(uint32_t target);
  void PostLocal(uint16_t slot, int32_t result);
  /* A result the operation does not end with: starts it again and returns true. Otherwise adds
   * what earlier pieces moved to `*result` and returns false. */
  bool Continue(uint16_t slot, int32_t* result);
  void CountWaiting(Slot& slot, bool transfer = false);
  void UpdateRef();
  void Leave(bool in_finalizer);

  EngineDriver* const driver_;
  const char* const name_;
  EnvHost* host_ = nullptr; /* null once closed or detached */
  uint16_t id_ = 0;
  QueueBuffers buffers_;
  std::vector<Slot> slots_;
  std::vector<Result> local_; /* decided here, to be finished */
  std::deque<Result> ready_;  /* finished, to be delivered */
  /* Indexed by descriptor (small integers): a per-operation count without hashing, as every
   * recv and send is counted. waiting_descriptors_: entries above zero. */
  std::vector<uint32_t> waiting_fds_;
  uint32_t waiting_descriptors_ = 0;
  /* Submitted reads and writes (read, write, readv, writev) per descriptor: on a socket they wait
   * for the peer as a recv does, so a close of a socket through the queue ends them first too
   * (on a file they run to their end: a close does not cancel a write in flight). */
  std::vector<uint32_t> transfer_fds_;
  long open_max_ = 1 << 20; /* RLIMIT_NOFILE as last read: no fd at or above it is open */
  uint32_t delivery_batch_ = 0;
  uint64_t multishot_items_ = 0;
  uint32_t in_flight_ = 0; /* operations with a slot, not yet delivered */
  bool user_ref_ = true;
  bool kept_alive_ = false;
  bool in_complete_ = false;
  bool closed_ = false;
};

}  // namespace proactor

#endif  // PROACTOR_COMMON_ENGINE_CORE_H
