/*
 * UringEngine: the aio-core Engine (packages/aio-core/src/backend.ts) of one queue over the
 * io_uring its environment shares (UringHost): the io_uring driver of the engine core
 * (../common/engine_core.h), which owns slots, chains, local results, delivery, ref/unref and
 * waitSync.
 *
 * Crossings: submit(n) is one JS-to-native call that decodes entries [0, n) of the submission
 * buffer and turns them into SQEs, entering the kernel once (once more per SQ ring's worth of a
 * bigger batch); completions are handed over with one complete(count) call per batch, from the
 * environment's wakeup callback (inside one callback scope per dispatch) or from waitSync().
 *
 * How each operation starts (Launch):
 * - into the kernel ring (Start::Submitted), as the SQE its Operation translates to;
 * - on the environment's blocking pool (Start::Blocking: Call(operation)) when the kernel lacks
 *   the opcode (IORING_REGISTER_PROBE) or blockingOps forces it. Socket operations never do (a
 *   blocking accept or recv would hold a pool thread for as long as its peer likes);
 * - as a plain system call at launch (Start::Done) for the socket operations that never wait:
 *   setsockopt and getsockname always; socket, bind, listen and shutdown on kernels without
 *   their opcode (or when blockingOps names them). Sockets are created blocking (SOCK_CLOEXEC):
 *   io_uring polls them internally.
 *
 * sendfile (Start::Submitted when the kernel has IORING_OP_SPLICE): the bytes go file -> pipe ->
 * output inside the kernel, through a pipe the engine lends the operation for its duration
 * (SplicePipe, kept in a free list and reused). Each round is a linked pair of splices, "fill"
 * (input at the position -> pipe, at most what the pipe holds) and "drain" (pipe -> output, as
 * much); both carry the operation's tag, and their completions arrive in that order. A short
 * fill breaks the link (the kernel completes the drain with ECANCELED) and whatever the fill put
 * in the pipe is drained on its own; a short drain is followed by another drain of the rest, so
 * no byte is left in the pipe while the operation goes on. A fill of 0 bytes is the end of the
 * input. An operation that ends with bytes still in the pipe (an error on the output, a cancel)
 * closes that pipe instead of returning it. A pair that a short submission cut in two (the
 * drain taken back out of the SQ, OnLinkCut) goes on as a fill on its own: its drain is issued
 * after the fill completed, as after a short fill. On the blocking pool (sendfile(2)) when the
 * kernel lacks splice, no pipe is left, or blockingOps names it.
 *
 * Registered buffers and files (opt-in, registerBuffers / registerFiles): the queue's entries
 * live in ranges of the UringHost's sparse tables. At launch, a READ / WRITE whose memory lies
 * inside one registered buffer becomes READ_FIXED / WRITE_FIXED, and an operation on a
 * registered fd that can take a fixed file uses IOSQE_FIXED_FILE; the pool runs the plain
 * Operation. Released indexes are cleared only once the kernel consumed every SQE that may
 * name them (UringHost::ReleaseRange).
 *
 * Lifetimes: while operations are in flight the engine holds a strong reference to its JS
 * object, which holds the RingContext (buffers, resource table, complete callback), so nothing
 * the kernel writes into can be collected. close() (after every operation completed) detaches it
 * from the UringHost; the host's cleanup hook detaches every engine when the environment goes
 * away, operations in flight or not.
 */
#ifndef PROACTOR_URING_ENGINE_H
#define PROACTOR_URING_ENGINE_H

#include <napi.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "../common/engine_core.h"
#include "compat.h"
#include "host.h"

namespace proactor {

/* io_uring opcode of each proactor opcode; kNoKernelOpcode where there is none (setsockopt,
 * getsockname: plain calls at launch; cancel). */
constexpr unsigned kNoKernelOpcode = 0x10000;
unsigned KernelOpcode(uint8_t proactor_opcode);

class UringEngine : public Napi::ObjectWrap<UringEngine>, public EngineDriver {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit UringEngine(const Napi::CallbackInfo& info);
  ~UringEngine() override;

  /* A CQE for the operation tagged `tag` (routed by UringHost). */
  void OnCompletion(uint64_t tag, int32_t result, uint32_t cqe_flags);
  /* The SQE tagged `tag`, the second of a linked pair, was taken out of the SQ before the
   * kernel saw it: a short submission took only the first (KernelRing::SetLinkCutHandler). */
  void OnLinkCut(uint64_t tag);

  /* ---- EngineDriver ---- */
  Start Launch(uint16_t slot, uint64_t tag, Operation& op, int32_t* result) override;
  void Cancel(uint16_t slot, uint64_t tag, const Operation& op) override;
  void CancelDescriptor(int fd) override;
  int32_t Settle(uint16_t slot, Operation& op, int32_t result) override;
  void BuffersDelivered(const std::vector<uint32_t>& ids) override;
  void KeepAlive(bool alive) override;
  void Release(bool host_alive) override;

 private:
  /* What the kernel reads or writes per slot beside the Operation's own storage. */
  struct KernelState {
    /* recvfrom and sendto: the msghdr and its one iovec handed to IORING_OP_RECVMSG / SENDMSG
     * (its msg_name is the Operation's address). */
    struct msghdr hdr;
    struct iovec iov;
    __kernel_timespec ts; /* timeout */
    /* A zero-copy send: its result, kept until the kernel's buffer-release notification. */
    bool zero_copy = false;
    int32_t zero_copy_result = 0;
    /* Fault injection (send_stuck): this send waits as a poll for an error or hang-up on a
     * socket that never becomes writable; the real send is made once the poll fires. */
    bool stuck_send = false;
    /* sendfile through a pipe (see the file comment). */
    struct Splice {
      int pipe = -1;           /* index into pipes_, -1 when the slot runs no splice */
      uint64_t tag = 0;        /* the operation's */
      int64_t position = 0;    /* of the input, for the next fill */
      uint32_t remaining = 0;  /* bytes still to send */
      uint32_t sent = 0;
      uint32_t in_pipe = 0;    /* bytes the fills put in the pipe that no drain took yet */
      uint32_t asked = 0;      /* the current fill's length */
      enum class Next : uint8_t { Fill, Drain, CancelledDrain } next = Next::Fill;
      bool linked_drain = false; /* the next completion after a fill is its linked drain */
      bool end = false;          /* the input ended (a fill of 0) */
      bool cancelled = false;    /* Cancel or CancelDescriptor: end with ECANCELED */
      int32_t error = 0;
    } splice;
  };

  /* A pipe lent to one sendfile at a time. */
  struct SplicePipe {
    int read_end = -1;
    int write_end = -1;
    uint32_t capacity = 0; /* bytes (F_GETPIPE_SZ) */
    bool busy = false;
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
  /* Throws unless the engine is attached. */
  UringHost& RequireHost(Napi::Env env);

  /* Translates `op` into `sqe`. */
  void Prepare(uint16_t slot, uint64_t tag, Operation& op, io_uring_sqe* sqe);
  /* Fault injection: whether a send on `fd` is to be stuck (send_stuck fired now or before). */
  bool SendStuck(int fd);
  /* Turns a prepared (plain) SQE into its registered-buffer / fixed-file form where it can. */
  void UseRegistered(uint8_t proactor_opcode, io_uring_sqe* sqe);
  /* A CLOSE of a registered fd: drop it from the table before the descriptor is closed. */
  void ForgetFile(int fd);
  void ReleaseBuffers();
  void ReleaseFiles();

  /* sendfile through a pipe: the first round, each later one, the completions. */
  Start LaunchSendfile(uint16_t slot, uint64_t tag, Operation& op, int32_t* result);
  void FillPipe(uint16_t slot, uint64_t tag, const Operation& op);
  void DrainPipe(uint16_t slot, uint64_t tag, const Operation& op, bool linked);
  void OnSpliceCompletion(uint16_t slot, uint64_t tag, const Operation& op, int32_t result);
  /* Ends a sendfile: its pipe goes back to the free list, or is closed when bytes are left in it. */
  void FinishSendfile(uint16_t slot, int32_t result);
  /* A free pipe's index, creating one when none is free; -1 when none can be made. */
  int AcquirePipe();
  void ClosePipes();

  /* Whether operations of this proactor opcode run on the blocking pool (the kernel lacks it,
   * or blockingOps names it). */
  bool NeedsPool(uint8_t proactor_opcode) const;
  /* Whether operations of this proactor opcode are plain system calls made at launch, their
   * result posted locally: setsockopt and getsockname always, and socket, bind, listen and
   * shutdown when the kernel lacks their io_uring opcode (or blockingOps names them). */
  bool RunsAtLaunch(uint8_t proactor_opcode) const;
  bool Forced(uint8_t proactor_opcode) const;
  /* Whether `op` is a read or write at the current position (offset -1) of a descriptor open with
   * O_DIRECT: those run on the pool (read(2) / write(2)), because io_uring leaves the file
   * position unmoved when it completes one asynchronously, as direct I/O does (Linux 6.18: the
   * next read returned the same block in 5 runs of 6; the kernel moves f_pos only for a transfer
   * done inline). One fcntl per current-position transfer; positioned ones are not looked at. */
  static bool AtCurrentDirectPosition(const Operation& op);

  /* How operations of each proactor opcode start, decided once the host is known (from
   * RunsAtLaunch, NeedsPool and the kernel's opcodes, none of which change afterwards): one table
   * lookup per operation instead of three switches, a blockingOps search and a probe lookup. */
  enum class Route : uint8_t {
    Kernel,      /* into the ring (sendfile: through a pipe, or the pool, see LaunchSendfile) */
    Pool,        /* Start::Blocking */
    AtLaunch,    /* a plain system call now (RunsAtLaunch) */
    Unsupported, /* a socket operation the kernel lacks: UV_ENOSYS */
  };
  void ComputeRoutes();
  std::array<Route, PROACTOR_OP_COUNT> routes_{};

  UringHost* host_ = nullptr; /* null once closed or detached (mirrors core_.host()) */
  EngineCore core_{this, "io_uring"};
  std::vector<KernelState> kernel_;
  /* blockingOps: proactor opcodes forced onto the blocking path (tests of the fallback). */
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
  uint64_t zero_copy_sends_ = 0;
  /* Fault injection (send_stuck): sockets whose sends wait forever (until an error, a hang-up,
   * a cancel or a close through the queue). Always empty in other builds. */
  std::vector<int> stuck_sockets_;
  std::vector<SplicePipe> pipes_;
  uint64_t splice_rounds_ = 0;     /* fills issued */
  uint64_t splice_partial_drains_ = 0; /* drains issued for bytes a short drain or fill left */
  uint64_t splice_links_cut_ = 0;      /* linked drains a short submission cut off their fill */
  uint64_t pipes_discarded_ = 0;
};

}  // namespace proactor

#endif  // PROACTOR_URING_ENGINE_H
