/*
 * LinuxAio: Linux's native asynchronous I/O (io_setup, io_submit, io_getevents, io_cancel,
 * io_destroy: the interface libaio wraps, called here as raw system calls so that users install
 * no library) for direct I/O in the reactor engine, where the thread pool would otherwise spend a
 * blocked thread on every O_DIRECT read. One per ReactorEngine (per queue).
 *
 * What goes through it (Launch): read, write, readv and writev at an explicit position, fsync and
 * fdatasync, on a descriptor that is open with O_DIRECT and is a regular file or a block device.
 * Everything else stays on the pool: buffered files (Linux AIO on them runs synchronously inside
 * io_submit, blocking the JS thread), a transfer at the current position (an iocb always carries
 * one), pipes (a pipe2(O_DIRECT) is a packet pipe, not direct I/O, and a read on it would block
 * inside io_submit). The descriptor is checked on every operation (fcntl(F_GETFL), and statx for
 * its type when it is O_DIRECT): fcntl(F_SETFL) can switch O_DIRECT on and off, and a number
 * closed behind the queue's back can be reused by another kind of file, so a cache per number
 * could send a pipe to io_submit. (Measured: bench/results, README.)
 *
 * The kernel's results are reported as they come: an O_DIRECT transfer the kernel refuses
 * (misaligned buffer, offset or length) completes with EINVAL, as pread(2), io_uring and aio-node
 * report it. An iocb that io_submit itself refuses (EAGAIN: no room; EINVAL: a command this kernel
 * or file system does not run asynchronously, e.g. IOCB_CMD_FSYNC before Linux 4.18) runs on the
 * pool instead, which makes the plain system call.
 *
 * Set-up: the context (io_setup, sized from the queue's entries) and its eventfd are made at the
 * first direct operation, so queues that never do direct I/O charge nothing against fs.aio-max-nr.
 * When io_setup fails (EAGAIN: fs.aio-nr would pass fs.aio-max-nr; EPERM or ENOSYS: a seccomp
 * filter or a kernel without CONFIG_AIO) the engine runs direct I/O on the pool and reason() says
 * why.
 *
 * Completions: every iocb carries IOCB_FLAG_RESFD with the context's eventfd, which the reactor's
 * poller watches (ReactorHost::Watch), so the loop's uv_poll and waitSync() both wake on it. A
 * report reads the eventfd and reaps with io_getevents in batches until the kernel has no more;
 * each event's aio_data is the operation's tag, and its result goes to EngineCore::Finish, from
 * where it is delivered through the completion buffer like every other completion. What the
 * kernel may answer short is made whole: io_submit taking fewer iocbs than given (the rest are
 * submitted again; the one it refuses goes to the pool), io_getevents returning fewer events than
 * the eventfd counted (reaped again at once: the kernel adds an event to the ring before it
 * signals, so a counted event is there) or EINTR (the eventfd is signalled again, and the next
 * report reaps the rest), a read or write completing with fewer bytes than asked (continued by the
 * engine core, as every backend's short file transfers; an O_DIRECT piece stays aligned).
 *
 * Cancellation: io_cancel. Linux cancels no file read or write in flight (EINVAL), so those run to
 * their end and complete with their real result; either way the result comes exactly once,
 * through the ring.
 *
 * Lifetime: an iocb in flight points into JS-owned buffers (kept by the queue until the final
 * completion) and the slot's iovec array. aio-core closes an engine only once everything
 * completed; an environment torn down with requests in flight (a terminated worker) reaches
 * Release(), which calls io_destroy: the kernel cancels what it can and waits for the rest before
 * it returns, so no request outlives the memory it writes.
 *
 * Threading: the JS thread only.
 */
#ifndef PROACTOR_REACTOR_LINUX_AIO_H
#define PROACTOR_REACTOR_LINUX_AIO_H

#include <napi.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../common/engine_core.h"
#include "host.h"

#ifdef __linux__
#include <linux/aio_abi.h>
#endif

namespace proactor {

/* Whether the Linux AIO system calls are usable here, decided without allocating a context:
 * io_setup(0, ...) fails with EINVAL where the call reaches the kernel, and with the filter's or
 * the kernel's error (EPERM, ENOSYS) where it does not. 0 (usable), or that negative errno. */
int ProbeLinuxAio();

class LinuxAio final : public ReadableWatcher {
 public:
  explicit LinuxAio(EngineCore& core);
  ~LinuxAio();
  LinuxAio(const LinuxAio&) = delete;
  LinuxAio& operator=(const LinuxAio&) = delete;

  /* Binds the host (after the core attached) and sizes the context: `entries`, the queue's.
   * `enabled`: the engine was asked to use Linux AIO (aio-epoll's default); otherwise
   * `off_reason` says why not (info()). */
  void Attach(ReactorHost* host, uint32_t entries, bool enabled, std::string off_reason);

  /* Queues `op` (slot `slot`, tag `tag`) for io_submit when it is one Linux AIO runs here (see the
   * file comment) and returns true: the operation is then Start::Submitted. False: it is not for
   * Linux AIO (or Linux AIO is off); the caller runs it elsewhere. */
  bool Launch(uint16_t slot, uint64_t tag, const Operation& op);
  /* Submits what Launch queued (io_submit, one call per batch); what the kernel refuses goes to
   * the pool. */
  void Flush();
  /* Best-effort cancel of the request of `slot`; true when the slot has one in flight here. */
  bool Cancel(uint16_t slot, uint64_t tag);
  /* The queue closed or its environment is going away: waits for every request in flight
   * (io_destroy), closes the eventfd and, with `host_alive`, stops the poller watching it. */
  void Release(bool host_alive);
  void FillInfo(Napi::Object out) const;

  /* ---- ReadableWatcher: the eventfd ---- */
  void OnReadable() override;
  void OnWatchFailed(int error) override;

 private:
  enum class State : uint8_t {
    Unused, /* enabled, no direct operation yet: no context */
    Active, /* a context and its eventfd, watched */
    Off,    /* not enabled, or set-up failed: reason_ says why */
  };

  bool SetUp();
  void TurnOff(std::string reason);
  /* Whether `fd` is open with O_DIRECT on a regular file or a block device. */
  bool IsDirect(int fd);
  /* Reaps every completion the kernel has (io_getevents until it returns fewer than asked and
   * every event the eventfd counted was taken); `wait_all`: blocks until none is in flight. */
  void Reap(bool wait_all);
  /* Runs the queued operation of `slot` on the pool: io_submit refused it. */
  void ToPool(uint16_t slot);
  /* Makes the eventfd report: for results decided here (deferred_), or events left in the ring. */
  void Signal();

  EngineCore& core_;
  ReactorHost* host_ = nullptr;
  State state_;
  std::string reason_;
  uint32_t entries_ = 0; /* the context's size: the queue's entries */
#ifdef __linux__
  aio_context_t context_ = 0;
  std::vector<struct iocb> iocbs_; /* by slot: the kernel names a request by its iocb's address */
#endif
  std::vector<uint64_t> in_kernel_; /* by slot: the tag submitted, kNoOperationTag when none */
  std::vector<uint16_t> queued_;    /* slots launched and not yet submitted */
  std::vector<uint16_t> batch_;     /* Flush's: the slots being submitted */
#ifdef __linux__
  std::vector<struct iocb*> pointers_; /* Flush's: their iocbs */
#endif
  /* Results decided without the kernel's event (tag, result), finished at the next report. */
  std::vector<std::pair<uint64_t, int32_t>> deferred_;
  int eventfd_ = -1;
  uint32_t outstanding_ = 0; /* submitted, not yet reaped */
  /* Completions the eventfd counted (less our own Signal() writes) and not reaped yet: above 0
   * after a reap, io_getevents answered short and the rest is still in the ring; below 0, events
   * were reaped ahead of their count (the kernel signals after it adds the event). */
  int64_t unreaped_ = 0;
  uint64_t own_signals_ = 0; /* Signal() writes not yet read back from the eventfd */
  /* Counters for info(). */
  uint64_t submitted_ = 0;
  uint64_t completed_ = 0;
  uint64_t submit_calls_ = 0;
  uint64_t reap_calls_ = 0;
  uint64_t refused_ = 0;      /* iocbs io_submit refused: run on the pool */
  uint64_t buffered_ = 0;     /* read/write/... on descriptors without O_DIRECT: the pool's */
  uint64_t cancel_calls_ = 0; /* io_cancel calls; the kernel refuses them for file I/O */
  int last_refusal_ = 0;      /* errno of the last refusal */
};

}  // namespace proactor

#endif  // PROACTOR_REACTOR_LINUX_AIO_H
