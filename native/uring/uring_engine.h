/*
 * UringEngine: the aio-core Engine (packages/aio-core/src/backend.ts) of one queue, over the
 * io_uring its environment shares (EnvRing).
 *
 * Crossings: submit(n) is one JS-to-native call that translates entries [0, n) of the
 * submission buffer into SQEs and enters the kernel once (once more per SQ ring's worth of a
 * bigger batch); completions are copied into the JS completion buffer and handed over with
 * one complete(count) call per batch, from the libuv callback of the environment's eventfd
 * (inside one callback scope per dispatch, see CompletionScope) or from waitSync().
 *
 * Operations the running kernel lacks (IORING_REGISTER_PROBE) run on the environment's
 * blocking pool instead. Socket operations never do (a blocking accept or recv would hold a
 * pool thread for as long as its peer likes): they run in the kernel ring, or, for the ones
 * that never wait (socket, bind, listen and shutdown on kernels without their opcode,
 * setsockopt and getsockname always), as plain system calls when they are launched, completing
 * locally. Sockets are created blocking (SOCK_CLOEXEC): io_uring polls them internally.
 *
 * Linked chains are sequenced here, not with IOSQE_IO_LINK: the engine starts a member when
 * its predecessor succeeded, and fails the rest with ECANCELED after an error or a short
 * transfer. The kernel cannot cancel a linked request that has not started without failing
 * the request it waits for, while aio-core's contract is that aborting a member cancels it
 * and the members after it, never those before it. Sequencing natively costs one completion
 * round trip per member (no JS crossing) and lets a chain mix ring and blocking-pool members.
 *
 * Registered buffers and files (opt-in, registerBuffers / registerFiles): the queue's entries
 * live in ranges of the EnvRing's sparse tables. At launch, a READ / WRITE whose memory lies
 * inside one registered buffer becomes READ_FIXED / WRITE_FIXED, and an operation on a
 * registered fd that can take a fixed file uses IOSQE_FIXED_FILE; the prepared SQE keeps the
 * plain form, which is what the blocking pool runs. Released indexes are cleared only once
 * the kernel consumed every SQE that may name them (EnvRing::ReleaseRange).
 *
 * Lifetimes: while operations are in flight the engine holds a strong reference to its JS
 * object, which holds the RingContext (buffers, resource table, complete callback), so
 * nothing the kernel writes into can be collected. close() (after every operation completed)
 * detaches it from the EnvRing; the EnvRing's cleanup hook detaches every engine when the
 * environment goes away, operations in flight or not.
 */
#ifndef PROACTOR_URING_ENGINE_H
#define PROACTOR_URING_ENGINE_H

#include <napi.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "../common/js_ring.h"
#include "../common/socket_address.h"
#include "uring_compat.h"
#include "uring_env_ring.h"

namespace proactor {

class UringEngine : public Napi::ObjectWrap<UringEngine> {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit UringEngine(const Napi::CallbackInfo& info);
  ~UringEngine() override;

  /* ---- called by EnvRing ---- */
  /* A kernel or pool result for `slot`; ignored unless `generation` is the slot's current one. */
  void OnCompletion(uint16_t slot, uint32_t generation, int32_t result, uint32_t cqe_flags);
  /* Finishes results decided without the kernel (errors found at submit, cancelled members). */
  void ProcessLocal();
  bool HasReady() const { return !ready_.empty(); }
  bool InComplete() const { return in_complete_; }
  /* Hands the ready list to JS in batches; see EnvRing::Dispatch. */
  uint32_t DeliverReady(Napi::Env env, napi_value* exception, bool* js_gone);
  /* Cancels every operation of this engine that is in the kernel. */
  void CancelInRing();
  bool HasRingOps() const;
  /* The EnvRing is going away (environment teardown): forget it. */
  void Detach();

 private:
  /* Per-slot native state: whatever the kernel reads or writes while the operation runs. */
  /* recvfrom and sendto: the msghdr and its one iovec handed to IORING_OP_RECVMSG / SENDMSG. */
  struct Message {
    struct msghdr hdr;
    struct iovec iov;
  };

  struct Slot {
    bool busy = false;
    /* Where the operation is: in the kernel ring, on the blocking pool, waiting for its
     * predecessor in a chain, or already decided here. */
    enum class Where : uint8_t { Ring, Pool, Sequenced, Local } where = Where::Ring;
    uint8_t opcode = 0;
    uint32_t generation = 0;
    uint64_t expected = 0; /* bytes asked for (read/write/recv/send): a short transfer breaks a chain */
    std::string path0;
    std::string path1;
    std::unique_ptr<struct iovec[]> iov;
    uint32_t iov_capacity = 0;
    std::unique_ptr<struct statx> stx;
    __kernel_timespec ts{};
    /* Sockets: the sockaddr (and its length) that bind and connect pass and accept and
     * getsockname fill; allocated on first use, kept with the slot. */
    std::unique_ptr<SocketAddress> sockaddr;
    /* recvfrom and sendto: allocated on first use, kept with the slot (its msg_name is sockaddr). */
    std::unique_ptr<Message> message;
    io_uring_sqe prepared{}; /* kept for the blocking pool and for chain members */
    /* The descriptor the operation waits on, counted in waiting_fds_ while in the ring (-1: none). */
    int32_t waiting_fd = -1;
    /* A zero-copy send: its result, kept until the kernel's buffer-release notification. */
    bool zero_copy = false;
    int32_t zero_copy_result = 0;
    /* The delivery batch that last handed over an item of this slot (see DeliverReady). */
    uint32_t delivered_batch = 0;
    /* Chain head only: the members after it, in order. */
    std::shared_ptr<std::deque<uint16_t>> chain;
  };

  struct Result {
    uint16_t slot;
    uint16_t flags; /* PROACTOR_CQE_F_* */
    int32_t result;
    uint32_t buffer = 0;
  };

  /* The provided-buffer ring of PROACTOR_OP_RECV_MULTI (IORING_REGISTER_PBUF_RING, group id =
   * the engine id): `count` buffers of `size` bytes in a JS-owned block the engine references. */
  struct BufferRing {
    PbufEntry* entries = nullptr; /* mmap'd, page aligned; entries[0].resv is the tail */
    size_t mapped = 0;
    uint8_t* base = nullptr;
    uint32_t size = 0;
    uint32_t count = 0;
    uint16_t tail = 0;
    /* Buffers handed to the kernel and not yet seen in a completion (diagnostics). */
    uint32_t in_kernel = 0;
    Napi::Reference<Napi::Value> memory;
  };

  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value WaitSync(const Napi::CallbackInfo& info);
  Napi::Value JsRef(const Napi::CallbackInfo& info);
  Napi::Value JsUnref(const Napi::CallbackInfo& info);
  Napi::Value JsClose(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value RegisterBuffers(const Napi::CallbackInfo& info);
  Napi::Value UnregisterBuffers(const Napi::CallbackInfo& info);
  Napi::Value RegisterFiles(const Napi::CallbackInfo& info);
  Napi::Value UnregisterFiles(const Napi::CallbackInfo& info);
  Napi::Value ProvideBuffers(const Napi::CallbackInfo& info);
  /* Hands buffer `id` back to the kernel (visible at the next PublishBuffers). */
  void RecycleBuffer(uint32_t id);
  void PublishBuffers();
  void ReleaseBufferRing(bool ring_alive);
  /* An item (a completion with PROACTOR_CQE_F_MORE) of a multishot operation. */
  void PostItem(uint16_t slot, int32_t result, uint16_t flags, uint32_t buffer);

  /* Turns a prepared (plain) SQE into its registered-buffer / fixed-file form where it can. */
  void UseRegistered(uint8_t proactor_opcode, io_uring_sqe* sqe);
  /* A CLOSE of a registered fd: drop it from the table before the descriptor is closed. */
  void ForgetFile(int fd);
  void ReleaseBuffers();
  void ReleaseFiles();

  /* The io_uring opcode for a proactor opcode (kNoKernelOpcode when there is none). */
  static unsigned KernelOpcode(uint8_t proactor_opcode);
  /* Whether operations of this proactor opcode run on the blocking pool (the kernel lacks it). */
  bool NeedsPool(uint8_t proactor_opcode) const;
  /* Whether operations of this proactor opcode are plain system calls made at launch, their
   * result posted locally: setsockopt and getsockname always, and socket, bind, listen and
   * shutdown when the kernel lacks their io_uring opcode (or a test forces it). */
  bool RunsAtLaunch(uint8_t proactor_opcode) const;
  /* Runs such an operation now; its result (>= 0 or -errno). */
  int32_t RunAtLaunch(uint16_t slot);
  /* Translates `e` into `sqe` (resources read from the table). 0 or -errno. */
  int Prepare(const proactor_sqe& e, napi_value resources, Slot& slot, io_uring_sqe* sqe);
  /* Starts a prepared operation: into the ring, or onto the pool when the kernel lacks it. */
  void Launch(uint16_t slot);
  void QueueCancel(uint32_t target);
  void PostLocal(uint16_t slot, int32_t result);
  /* The operation's final result: frees the slot, advances or ends its chain, and queues the
   * result for JS. */
  void Finish(uint16_t slot, int32_t result);
  void UpdateRef();
  void Unregister(bool in_finalizer);

  napi_env env_;
  EnvRing* ring_ = nullptr; /* null once closed or detached */
  uint16_t id_ = 0;
  JsRing ring_js_;
  std::vector<Slot> slots_;
  std::vector<Result> local_;  /* decided here, to be finished */
  std::deque<Result> ready_;   /* finished, to be delivered */
  /* Proactor opcodes forced onto the blocking pool (tests of the fallback path). */
  std::vector<uint32_t> blocking_ops_;

  /* Registered buffers, sorted by start; max_end[i] is the largest end among [0, i]. */
  struct RegisteredBuffer {
    uintptr_t start;
    uintptr_t end;
    uint32_t index;
  };
  std::vector<RegisteredBuffer> buffers_;
  std::vector<uintptr_t> buffers_max_end_;
  uint32_t buffer_base_ = 0;
  uint32_t buffer_count_ = 0;
  /* Registered files: fd -> table index (within [file_base_, file_base_ + file_count_)). */
  std::unordered_map<int, uint32_t> files_;
  uint32_t file_base_ = 0;
  uint32_t file_count_ = 0;
  uint64_t fixed_buffer_ops_ = 0; /* SQEs issued as READ_FIXED / WRITE_FIXED */
  uint64_t fixed_file_ops_ = 0;   /* SQEs issued with IOSQE_FIXED_FILE */

  BufferRing buffer_ring_;
  /* Descriptors with operations waiting on them in the ring: closing one through the queue
   * cancels them first (IORING_ASYNC_CANCEL_FD), as every backend ends them with ECANCELED. */
  /* Indexed by descriptor (they are small integers): a per-operation count without hashing, as
   * every recv and send is counted. waiting_descriptors_: entries above zero. */
  std::vector<uint32_t> waiting_fds_;
  uint32_t waiting_descriptors_ = 0;
  long open_max_ = 1 << 20; /* RLIMIT_NOFILE when the engine was made: no fd at or above it is open */
  bool HasWaiting(int fd) const {
    return fd >= 0 && static_cast<size_t>(fd) < waiting_fds_.size() && waiting_fds_[fd] > 0;
  }
  uint32_t delivery_batch_ = 0;
  uint64_t multishot_items_ = 0;
  uint64_t zero_copy_sends_ = 0;

  uint32_t in_flight_ = 0; /* operations with a slot, not yet delivered */
  bool user_ref_ = true;
  bool self_ref_ = false;
  bool in_complete_ = false;
  bool closed_ = false;
};

}  // namespace proactor

#endif  // PROACTOR_URING_ENGINE_H
