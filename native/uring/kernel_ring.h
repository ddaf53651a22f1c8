/*
 * KernelRing: one io_uring instance driven with raw system calls (io_uring_setup,
 * io_uring_enter, io_uring_register) and <linux/io_uring.h>; no liburing, so users need
 * nothing installed beyond the kernel.
 *
 * Contracts:
 * - Single-threaded: every method is called from the thread that owns the ring (the JS
 *   thread of one Node environment).
 * - NextSqe() hands out zeroed SQEs in the shared SQ array; they become visible to the kernel
 *   at the next Enter(), which publishes the tail.
 * - Errors are negative errno values; nothing here throws.
 */
#ifndef PROACTOR_URING_KERNEL_RING_H
#define PROACTOR_URING_KERNEL_RING_H

#include <linux/io_uring.h>
#include <linux/time_types.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "compat.h"

namespace proactor {

struct RingSetup {
  unsigned sq_entries = 256;
  unsigned cq_entries = 0; /* 0: the kernel's default (2 * sq_entries) */
  /* IORING_SETUP_SQPOLL: a kernel thread polls the SQ ring, idling after sq_idle_ms. */
  bool sqpoll = false;
  unsigned sq_idle_ms = 50;
  /* IORING_SETUP_DEFER_TASKRUN | SINGLE_ISSUER (Linux 6.1; plain rings only): completion work
   * runs only when the thread enters with GETEVENTS (RunTaskWork), instead of COOP_TASKRUN's
   * at its next kernel entry. */
  bool defer_taskrun = false;
};

class KernelRing {
 public:
  KernelRing() = default;
  ~KernelRing();
  KernelRing(const KernelRing&) = delete;
  KernelRing& operator=(const KernelRing&) = delete;

  /* Creates the ring and maps it. Returns 0 or -errno; `syscall` names what failed. */
  int Open(const RingSetup& setup, const char** syscall);
  /* Unmaps and closes the ring fd; the kernel cancels what is still in flight. Idempotent. */
  void Close();
  bool IsOpen() const { return fd_ >= 0; }

  int fd() const { return fd_; }
  uint32_t features() const { return features_; }
  unsigned sq_entries() const { return sq_entries_; }
  unsigned cq_entries() const { return cq_entries_; }

  bool sqpoll() const { return sqpoll_; }
  bool defer_taskrun() const { return defer_taskrun_; }
  /* DEFER_TASKRUN rings: runs the completion work queued for this thread, posting its CQEs.
   * A no-op on other rings. 0 or -errno. */
  int RunTaskWork();
  /* io_uring_enter calls made so far (diagnostics: SQPOLL rings mostly skip them). */
  uint64_t enter_calls() const { return enter_calls_; }

  /* io_uring_register(fd, opcode, arg, nr): its non-negative result, or -errno. */
  int Register(unsigned opcode, const void* arg, unsigned nr);

  /* Whether the kernel implements `op` (IORING_REGISTER_PROBE); false when probing failed. */
  bool Supports(unsigned op) const;
  /* Registers `eventfd` to be signalled on every completion. 0 or -errno. */
  int RegisterEventfd(int eventfd);

  /* Free SQ slots not yet handed out. */
  unsigned SqSpace() const;
  /* SQEs handed out but not yet consumed by the kernel. */
  unsigned SqPending() const;
  /* A zeroed SQE, or nullptr when the SQ is full (call Enter() first). */
  io_uring_sqe* NextSqe();

  /*
   * Publishes the SQ tail and calls io_uring_enter until every pending SQE was consumed, then
   * waits for `min_complete` completions when `wait` is set (timeout_ns < 0: no limit).
   * Returns 0, -ETIME when the wait timed out, or another -errno (-EBUSY / -EAGAIN: the
   * kernel could not take more now; the unconsumed SQEs stay queued for the next call).
   *
   * SQPOLL rings: the kernel thread consumes the SQ by itself, so Enter() only publishes the
   * tail and enters only when the thread sleeps (IORING_SQ_NEED_WAKEUP: IORING_ENTER_SQ_WAKEUP)
   * or to wait for completions; it does not wait for the SQEs to be consumed, and returns
   * -EBUSY while the SQ is still full (the caller retries later).
   */
  int Enter(bool wait, unsigned min_complete, int64_t timeout_ns);

  /*
   * A linked chain cut by a short submission. io_uring ends a chain at the end of a submission:
   * when the kernel consumes part of a chain (it takes fewer SQEs than offered when it cannot
   * allocate a request; the uring_enter_partial fault pretends that), it runs the part it took
   * as a chain of its own, and the rest would run next time unlinked, without waiting for the
   * part before. So after every submission that stopped inside a chain, the rest of that chain
   * is taken out of the SQ (the SQEs behind it move up) and `handler` is called with the
   * user_data of each SQE taken out, for its owner to issue again once the part the kernel took
   * completed. Not on SQPOLL rings, whose SQ the kernel thread reads at any time (and which
   * never submit part of what is offered, but for the allocation failure).
   */
  using LinkCutHandler = void (*)(void* context, uint64_t user_data);
  void SetLinkCutHandler(LinkCutHandler handler, void* context) {
    link_cut_handler_ = handler;
    link_cut_context_ = context;
  }
  /* SQEs taken out of cut chains so far (diagnostics, and proof that tests met the case). */
  uint64_t links_cut() const { return links_cut_; }

  /* Takes back the SQEs the kernel has not consumed (after Enter() failed for good), appending
   * their user_data to `out`. */
  void DiscardPending(std::vector<uint64_t>* out);

  /* Completions ready in the CQ ring. */
  unsigned CqReady() const;
  /* The i-th ready completion (i < CqReady()). */
  const io_uring_cqe& CqeAt(unsigned i) const;
  /* Marks `n` completions consumed. */
  void CqAdvance(unsigned n);
  /* Whether the kernel holds completions that did not fit the CQ ring (IORING_SQ_CQ_OVERFLOW). */
  bool CqOverflowed() const;

 private:
  int EnterRaw(unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg, size_t argsz);
  /* After a submission: takes the rest of a chain it stopped inside out of the SQ (see
   * SetLinkCutHandler). */
  void DropCutChain();

  int fd_ = -1;
  uint32_t features_ = 0;
  bool sqpoll_ = false;
  bool defer_taskrun_ = false;
  uint64_t enter_calls_ = 0;
  LinkCutHandler link_cut_handler_ = nullptr;
  void* link_cut_context_ = nullptr;
  uint64_t links_cut_ = 0;
  unsigned sq_entries_ = 0;
  unsigned cq_entries_ = 0;

  void* sq_map_ = nullptr;
  size_t sq_map_size_ = 0;
  void* cq_map_ = nullptr; /* == sq_map_ with IORING_FEAT_SINGLE_MMAP */
  size_t cq_map_size_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_size_ = 0;

  /* SQ ring fields (shared with the kernel). */
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_flags_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned sq_mask_ = 0;
  /* Our private tail: SQEs handed out; published to *sq_tail_ by Enter(). */
  unsigned sq_local_tail_ = 0;

  /* CQ ring fields. */
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  unsigned cq_mask_ = 0;

  /* Opcode support from IORING_REGISTER_PROBE: bit per opcode. */
  uint64_t supported_[4] = {0, 0, 0, 0};
  bool probed_ = false;
};

}  // namespace proactor

#endif  // PROACTOR_URING_KERNEL_RING_H
