#include "kernel_ring.h"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "../common/fault_schedule.h"

namespace proactor {

namespace {

int SysSetup(unsigned entries, io_uring_params* p) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, p));
}

int SysEnter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg, size_t argsz) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz));
}

int SysRegister(int fd, unsigned opcode, const void* arg, unsigned nr_args) {
  return static_cast<int>(syscall(__NR_io_uring_register, fd, opcode, arg, nr_args));
}

void* MapRing(int fd, size_t size, uint64_t offset) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, static_cast<off_t>(offset));
  return p == MAP_FAILED ? nullptr : p;
}

template <typename T>
T* At(void* base, uint32_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

constexpr unsigned kSingleIssuer = 1U << 12;  /* IORING_SETUP_SINGLE_ISSUER, Linux 6.0 */
constexpr unsigned kDeferTaskrun = 1U << 13;  /* IORING_SETUP_DEFER_TASKRUN, Linux 6.1 */

}  // namespace

KernelRing::~KernelRing() { Close(); }

int KernelRing::Open(const RingSetup& setup, const char** syscall_name) {
  io_uring_params p;
  std::memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
  if (setup.sqpoll) {
    p.flags |= IORING_SETUP_SQPOLL;
    p.sq_thread_idle = setup.sq_idle_ms;
  } else if (setup.defer_taskrun) {
    p.flags |= kSingleIssuer | kDeferTaskrun;
  } else {
    p.flags |= IORING_SETUP_COOP_TASKRUN;
  }
  if (setup.cq_entries != 0) {
    p.flags |= IORING_SETUP_CQSIZE;
    p.cq_entries = std::max(setup.cq_entries, setup.sq_entries);
  }
  *syscall_name = "io_uring_setup";
  int fd = SysSetup(setup.sq_entries, &p);
  if (fd < 0 && errno == EINVAL) {
    // Kernels before 5.18 reject IORING_SETUP_SUBMIT_ALL; Enter() copes without it.
    unsigned cq = p.cq_entries;
    unsigned idle = p.sq_thread_idle;
    unsigned flags = p.flags & ~(IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | kSingleIssuer | kDeferTaskrun);
    std::memset(&p, 0, sizeof p);
    p.flags = flags;
    p.cq_entries = cq;
    p.sq_thread_idle = idle;
    fd = SysSetup(setup.sq_entries, &p);
  }
  if (fd < 0) return -errno;
  fd_ = fd;
  features_ = p.features;
  defer_taskrun_ = (p.flags & kDeferTaskrun) != 0;
  // Completions must never be dropped when the CQ ring is full (5.5), and offset -1 must mean
  // the file position (5.6): older kernels are refused rather than misbehaving.
  if (!(p.features & IORING_FEAT_NODROP) || !(p.features & IORING_FEAT_RW_CUR_POS)) {
    Close();
    return -EOPNOTSUPP;
  }
  // Before 5.11 an SQPOLL ring takes fixed files only (and needs CAP_SYS_ADMIN): refused.
  if (setup.sqpoll && !(p.features & IORING_FEAT_SQPOLL_NONFIXED)) {
    Close();
    return -EOPNOTSUPP;
  }
  sqpoll_ = setup.sqpoll;
  sq_entries_ = p.sq_entries;
  cq_entries_ = p.cq_entries;

  *syscall_name = "mmap";
  sq_map_size_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cq_map_size_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  if (p.features & IORING_FEAT_SINGLE_MMAP) {
    sq_map_size_ = cq_map_size_ = std::max(sq_map_size_, cq_map_size_);
  }
  sq_map_ = MapRing(fd_, sq_map_size_, IORING_OFF_SQ_RING);
  if (sq_map_ == nullptr) {
    int err = -errno;
    Close();
    return err;
  }
  if (p.features & IORING_FEAT_SINGLE_MMAP) {
    cq_map_ = sq_map_;
  } else {
    cq_map_ = MapRing(fd_, cq_map_size_, IORING_OFF_CQ_RING);
    if (cq_map_ == nullptr) {
      int err = -errno;
      Close();
      return err;
    }
  }
  sqes_size_ = p.sq_entries * sizeof(io_uring_sqe);
  sqes_ = static_cast<io_uring_sqe*>(MapRing(fd_, sqes_size_, IORING_OFF_SQES));
  if (sqes_ == nullptr) {
    int err = -errno;
    Close();
    return err;
  }

  sq_head_ = At<unsigned>(sq_map_, p.sq_off.head);
  sq_tail_ = At<unsigned>(sq_map_, p.sq_off.tail);
  sq_flags_ = At<unsigned>(sq_map_, p.sq_off.flags);
  sq_array_ = At<unsigned>(sq_map_, p.sq_off.array);
  sq_mask_ = *At<unsigned>(sq_map_, p.sq_off.ring_mask);
  cq_head_ = At<unsigned>(cq_map_, p.cq_off.head);
  cq_tail_ = At<unsigned>(cq_map_, p.cq_off.tail);
  cqes_ = At<io_uring_cqe>(cq_map_, p.cq_off.cqes);
  cq_mask_ = *At<unsigned>(cq_map_, p.cq_off.ring_mask);
  // The SQ index array maps ring positions to SQEs; an identity map lets NextSqe() hand out
  // sqes_[tail & mask] directly.
  for (unsigned i = 0; i < p.sq_entries; i++) sq_array_[i] = i;
  sq_local_tail_ = *sq_tail_;

  // Which opcodes this kernel implements. Probing needs Linux 5.6; without it only the
  // opcodes of 5.5 and earlier are assumed.
  const size_t probe_size = sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op);
  auto* probe = static_cast<io_uring_probe*>(std::calloc(1, probe_size));
  if (probe != nullptr) {
    if (SysRegister(fd_, IORING_REGISTER_PROBE, probe, 256) == 0) {
      probed_ = true;
      for (unsigned i = 0; i < probe->ops_len && i < 256; i++) {
        if (probe->ops[i].flags & IO_URING_OP_SUPPORTED) supported_[i / 64] |= uint64_t{1} << (i % 64);
      }
    }
    std::free(probe);
  }
  return 0;
}

void KernelRing::Close() {
  if (sqes_ != nullptr) munmap(sqes_, sqes_size_);
  if (cq_map_ != nullptr && cq_map_ != sq_map_) munmap(cq_map_, cq_map_size_);
  if (sq_map_ != nullptr) munmap(sq_map_, sq_map_size_);
  sqes_ = nullptr;
  cq_map_ = nullptr;
  sq_map_ = nullptr;
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool KernelRing::Supports(unsigned op) const {
  if (op >= 256) return false;
  if (!probed_) return op < IORING_OP_FALLOCATE;
  return (supported_[op / 64] >> (op % 64)) & 1;
}

int KernelRing::Register(unsigned opcode, const void* arg, unsigned nr) {
  int r = SysRegister(fd_, opcode, arg, nr);
  return r < 0 ? -errno : r;
}

int KernelRing::RegisterEventfd(int eventfd) {
  return SysRegister(fd_, IORING_REGISTER_EVENTFD, &eventfd, 1) < 0 ? -errno : 0;
}

unsigned KernelRing::SqPending() const {
  return sq_local_tail_ - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
}

unsigned KernelRing::SqSpace() const { return sq_entries_ - SqPending(); }

io_uring_sqe* KernelRing::NextSqe() {
  if (SqSpace() == 0) return nullptr;
  io_uring_sqe* sqe = &sqes_[sq_local_tail_ & sq_mask_];
  std::memset(sqe, 0, sizeof *sqe);
  sq_local_tail_++;
  return sqe;
}

int KernelRing::RunTaskWork() {
  if (!defer_taskrun_) return 0;
  __atomic_store_n(sq_tail_, sq_local_tail_, __ATOMIC_RELEASE);
  int r = EnterRaw(SqPending(), 0, IORING_ENTER_GETEVENTS, nullptr, 0);
  return r < 0 ? r : 0;
}

int KernelRing::EnterRaw(unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg, size_t argsz) {
  enter_calls_++;
  // Fault injection (test builds): the failures io_uring_enter(2) documents, before the kernel
  // consumed anything, and a kernel that takes only part of what it was offered.
  if (InjectFault(FaultSite::uring_enter_eintr)) return -EINTR;
  if (InjectFault(FaultSite::uring_enter_eagain)) return -EAGAIN;
  if (InjectFault(FaultSite::uring_enter_ebusy)) return -EBUSY;
  if (to_submit > 1 && InjectFault(FaultSite::uring_enter_partial)) to_submit /= 2;
  int r = SysEnter(fd_, to_submit, min_complete, flags, arg, argsz);
  if (r < 0) return -errno;
  if (r > 0) DropCutChain();
  return r;
}

void KernelRing::DropCutChain() {
  if (sqpoll_) return;
  const unsigned head = __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
  if (head == sq_local_tail_) return;
  // The SQ array is the identity (Open): the last SQE the kernel consumed is the one before the head.
  constexpr uint8_t kLinked = IOSQE_IO_LINK | IOSQE_IO_HARDLINK;
  if ((sqes_[(head - 1) & sq_mask_].flags & kLinked) == 0) return;
  // The chain's rest: through the first SQE without a link flag.
  unsigned end = head;
  while (end != sq_local_tail_) {
    const bool more = (sqes_[end & sq_mask_].flags & kLinked) != 0;
    end++;
    if (!more) break;
  }
  std::vector<uint64_t> cut;
  for (unsigned i = head; i != end; i++) cut.push_back(sqes_[i & sq_mask_].user_data);
  // The kernel reads none of the SQEs past the head until the next io_uring_enter: the ones
  // behind the chain move up into its place.
  const unsigned n = end - head;
  for (unsigned i = end; i != sq_local_tail_; i++) sqes_[(i - n) & sq_mask_] = sqes_[i & sq_mask_];
  sq_local_tail_ -= n;
  __atomic_store_n(sq_tail_, sq_local_tail_, __ATOMIC_RELEASE);
  links_cut_ += n;
  if (link_cut_handler_ != nullptr) {
    for (uint64_t user_data : cut) link_cut_handler_(link_cut_context_, user_data);
  }
}

int KernelRing::Enter(bool wait, unsigned min_complete, int64_t timeout_ns) {
  __atomic_store_n(sq_tail_, sq_local_tail_, __ATOMIC_RELEASE);
  for (;;) {
    unsigned pending = SqPending();
    unsigned flags = 0;
    if (sqpoll_) {
      // A full barrier between publishing the tail and reading the flags (liburing's
      // io_uring_smp_mb): otherwise a thread going to sleep could miss the new tail.
      __atomic_thread_fence(__ATOMIC_SEQ_CST);
      if (pending > 0 && (__atomic_load_n(sq_flags_, __ATOMIC_RELAXED) & IORING_SQ_NEED_WAKEUP)) {
        flags |= IORING_ENTER_SQ_WAKEUP;
      }
      if (!wait) {
        if (flags != 0) {
          int r = EnterRaw(0, 0, flags, nullptr, 0);
          if (r == -EINTR) continue;
          if (r < 0) return r;
        }
        // A full SQ is not waited for here (IORING_ENTER_SQ_WAIT could block the JS thread for
        // as long as the thread cannot submit): the caller retries, as after -EBUSY.
        return SqSpace() == 0 ? -EBUSY : 0;
      }
    } else if (pending == 0 && !wait) {
      return 0;
    }
    const void* arg = nullptr;
    size_t argsz = 0;
    __kernel_timespec ts;
    io_uring_getevents_arg ext;
    if (wait) {
      flags |= IORING_ENTER_GETEVENTS;
      if (timeout_ns >= 0) {
        if (!(features_ & IORING_FEAT_EXT_ARG)) return -EOPNOTSUPP;
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        std::memset(&ext, 0, sizeof ext);
        ext.sigmask = 0;
        ext.sigmask_sz = _NSIG / 8;
        ext.ts = reinterpret_cast<uint64_t>(&ts);
        flags |= IORING_ENTER_EXT_ARG;
        arg = &ext;
        argsz = sizeof ext;
      }
    } else if (defer_taskrun_) {
      // Run the completion work queued so far while in the kernel anyway: a cancellation takes
      // effect now (a multishot accept leaves the socket's wait queue before the next accept
      // arms), and completions are posted for the next reap.
      flags |= IORING_ENTER_GETEVENTS;
    }
    int r = EnterRaw(sqpoll_ ? 0 : pending, wait ? min_complete : 0, flags, arg, argsz);
    if (r == -EINTR) continue;
    if (r < 0) return r;
    if (sqpoll_ || SqPending() == 0) return 0;
    // Without IORING_SETUP_SUBMIT_ALL the kernel stops at an SQE that failed (it posted that
    // one's completion): submit the rest. The wait, if any, has happened.
    if (r == 0) return -EAGAIN;
    wait = false;
  }
}

void KernelRing::DiscardPending(std::vector<uint64_t>* out) {
  unsigned head = __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
  for (unsigned i = head; i != sq_local_tail_; i++) out->push_back(sqes_[i & sq_mask_].user_data);
  sq_local_tail_ = head;
  __atomic_store_n(sq_tail_, sq_local_tail_, __ATOMIC_RELEASE);
}

unsigned KernelRing::CqReady() const {
  return __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE) - *cq_head_;
}

const io_uring_cqe& KernelRing::CqeAt(unsigned i) const { return cqes_[(*cq_head_ + i) & cq_mask_]; }

void KernelRing::CqAdvance(unsigned n) { __atomic_store_n(cq_head_, *cq_head_ + n, __ATOMIC_RELEASE); }

bool KernelRing::CqOverflowed() const {
  return (__atomic_load_n(sq_flags_, __ATOMIC_RELAXED) & IORING_SQ_CQ_OVERFLOW) != 0;
}

}  // namespace proactor
