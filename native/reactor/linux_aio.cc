#include "linux_aio.h"

#include <errno.h>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "../common/fault_schedule.h"

#ifdef __linux__
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#endif

namespace proactor {

namespace {

/* The code name ("EPERM") of a negative libuv error code. */
std::string ErrorName(int code) { return uv_err_name(code); }

}  // namespace

#ifdef __linux__

namespace {

/* Events taken per io_getevents call. */
constexpr long kReapBatch = 128;

/* The system calls, as the kernel answers them, or (fault-injection builds, fault_schedule.h) as it
 * may: -1 with errno set, or fewer iocbs taken or events returned than it could have. ProbeLinuxAio
 * calls io_setup without faults: the probe asks whether the calls reach the kernel at all. */
long IoSetup(unsigned entries, aio_context_t* context) { return syscall(__NR_io_setup, entries, context); }
long IoSetupOrFault(unsigned entries, aio_context_t* context) {
  if (InjectFault(FaultSite::aio_setup_eagain)) {
    errno = EAGAIN;
    return -1;
  }
  return IoSetup(entries, context);
}
long IoDestroy(aio_context_t context) { return syscall(__NR_io_destroy, context); }
long IoSubmit(aio_context_t context, long count, struct iocb** iocbs) {
  if (InjectFault(FaultSite::aio_submit_eagain)) {
    errno = EAGAIN;
    return -1;
  }
  if (count > 1 && InjectFault(FaultSite::aio_submit_partial)) count /= 2;
  return syscall(__NR_io_submit, context, count, iocbs);
}
long IoGetevents(aio_context_t context, long min, long max, struct io_event* events, struct timespec* timeout) {
  if (InjectFault(FaultSite::aio_getevents_eintr)) {
    errno = EINTR;
    return -1;
  }
  // One event where more may be ready.
  if (max > 1 && InjectFault(FaultSite::aio_getevents_short)) {
    max = 1;
    min = min > 0 ? 1 : 0;
  }
  return syscall(__NR_io_getevents, context, min, max, events, timeout);
}
long IoCancel(aio_context_t context, struct iocb* iocb, struct io_event* result) {
  return syscall(__NR_io_cancel, context, iocb, result);
}

/* A number from /proc/sys/fs (aio-nr, aio-max-nr), or -1. */
long long ReadProcNumber(const char* path) {
  FILE* f = fopen(path, "re");
  if (f == nullptr) return -1;
  long long value = -1;
  if (fscanf(f, "%lld", &value) != 1) value = -1;
  fclose(f);
  return value;
}

/* Why io_setup(`entries`) failed with `error`, for info() and @proactor/aio's explanations. */
std::string SetupFailure(unsigned entries, int error) {
  std::string head = "io_setup(" + std::to_string(entries) + ") failed with " + ErrorName(-error);
  switch (error) {
    case EAGAIN: {
      const long long used = ReadProcNumber("/proc/sys/fs/aio-nr");
      const long long max = ReadProcNumber("/proc/sys/fs/aio-max-nr");
      std::string counts;
      if (used >= 0 && max >= 0) counts = " (fs.aio-nr is " + std::to_string(used) + " of " + std::to_string(max) + ")";
      return head + ": the system's Linux AIO events would pass fs.aio-max-nr" + counts +
             "; raise it (sysctl fs.aio-max-nr) or use fewer or smaller queues";
    }
    case EPERM:
      return head + ": a seccomp filter blocks the Linux AIO system calls";
    case ENOSYS:
      return head + ": this kernel has no Linux AIO (CONFIG_AIO), or a seccomp filter answers ENOSYS";
    case ENOMEM:
      return head + ": the kernel could not allocate the context";
    default:
      return head;
  }
}

}  // namespace

int ProbeLinuxAio() {
  aio_context_t context = 0;
  // nr_events 0 is refused by the kernel before it allocates anything.
  const long r = IoSetup(0, &context);
  if (r == 0) {
    IoDestroy(context);  // (not expected: a kernel that accepts 0 events)
    return 0;
  }
  return errno == EINVAL ? 0 : -errno;
}

LinuxAio::LinuxAio(EngineCore& core) : core_(core), state_(State::Off) {}

LinuxAio::~LinuxAio() { Release(false); }

void LinuxAio::Attach(ReactorHost* host, uint32_t entries, bool enabled, std::string off_reason) {
  host_ = host;
  entries_ = entries;
  in_kernel_.assign(entries, kNoOperationTag);
  state_ = enabled ? State::Unused : State::Off;
  reason_ = enabled ? std::string() : std::move(off_reason);
}

bool LinuxAio::IsDirect(int fd) {
  if (fd < 0 || !OpenWithDirect(fd)) return false;
  struct statx st;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &st) != 0) return false;
  return S_ISREG(st.stx_mode) || S_ISBLK(st.stx_mode);
}

bool LinuxAio::Launch(uint16_t slot, uint64_t tag, const Operation& op) {
  if (state_ == State::Off || slot >= in_kernel_.size()) return false;
  switch (op.opcode) {
    case PROACTOR_OP_READ:
    case PROACTOR_OP_WRITE:
    case PROACTOR_OP_READV:
    case PROACTOR_OP_WRITEV:
      if (op.offset < 0) return false;  // the current position: an iocb has none
      break;
    case PROACTOR_OP_FSYNC:
    case PROACTOR_OP_FDATASYNC:
      break;
    default:
      return false;
  }
  if (!IsDirect(op.fd)) {
    buffered_++;
    return false;
  }
  if (state_ == State::Unused && !SetUp()) return false;
  struct iocb& cb = iocbs_[slot];
  cb = {};
  cb.aio_data = tag;
  cb.aio_fildes = static_cast<uint32_t>(op.fd);
  cb.aio_flags = IOCB_FLAG_RESFD;
  cb.aio_resfd = static_cast<uint32_t>(eventfd_);
  switch (op.opcode) {
    case PROACTOR_OP_READ:
    case PROACTOR_OP_WRITE:
      cb.aio_lio_opcode = op.opcode == PROACTOR_OP_READ ? IOCB_CMD_PREAD : IOCB_CMD_PWRITE;
      cb.aio_buf = reinterpret_cast<uintptr_t>(op.data);
      cb.aio_nbytes = CutForFault(op, FaultSite::aio_short_transfer);
      cb.aio_offset = op.offset;
      break;
    case PROACTOR_OP_READV:
    case PROACTOR_OP_WRITEV:
      cb.aio_lio_opcode = op.opcode == PROACTOR_OP_READV ? IOCB_CMD_PREADV : IOCB_CMD_PWRITEV;
      cb.aio_buf = reinterpret_cast<uintptr_t>(op.iov);
      cb.aio_nbytes = CutVectorsForFault(op, FaultSite::aio_short_transfer);
      cb.aio_offset = op.offset;
      break;
    default:
      cb.aio_lio_opcode = op.opcode == PROACTOR_OP_FSYNC ? IOCB_CMD_FSYNC : IOCB_CMD_FDSYNC;
      break;
  }
  in_kernel_[slot] = tag;
  queued_.push_back(slot);
  return true;
}

bool LinuxAio::SetUp() {
  aio_context_t context = 0;
  if (IoSetupOrFault(entries_, &context) < 0) {
    TurnOff(SetupFailure(entries_, errno));
    return false;
  }
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    IoDestroy(context);
    TurnOff("eventfd failed with " + ErrorName(-error) + ": no completion signal for Linux AIO");
    return false;
  }
  const int r = host_ == nullptr ? UV_EBADF : host_->Watch(fd, this);
  if (r < 0) {
    close(fd);
    IoDestroy(context);
    TurnOff("the poller cannot watch the completion eventfd (" + ErrorName(r) + ")");
    return false;
  }
  context_ = context;
  eventfd_ = fd;
  iocbs_.assign(entries_, iocb{});
  state_ = State::Active;
  return true;
}

void LinuxAio::TurnOff(std::string reason) {
  // A context with requests in flight stays until Release(): they are reaped as usual.
  state_ = State::Off;
  reason_ = std::move(reason);
}

void LinuxAio::Flush() {
  if (queued_.empty()) return;
  batch_.swap(queued_);
  pointers_.clear();
  for (uint16_t slot : batch_) pointers_.push_back(&iocbs_[slot]);
  size_t done = 0;
  while (done < pointers_.size()) {
    if (context_ == 0) {
      ToPool(batch_[done++]);
      continue;
    }
    submit_calls_++;
    const long r = IoSubmit(context_, static_cast<long>(pointers_.size() - done), pointers_.data() + done);
    if (r > 0) {
      submitted_ += static_cast<uint64_t>(r);
      outstanding_ += static_cast<uint32_t>(r);
      done += static_cast<size_t>(r);
      continue;
    }
    // The first of the rest was refused (r == 0 is not expected: counted as no room).
    const int error = r == 0 ? EAGAIN : errno;
    refused_++;
    last_refusal_ = error;
    if (error == EPERM || error == ENOSYS) {
      TurnOff("io_submit failed with " + ErrorName(-error) + ": a seccomp filter blocks it (io_setup was allowed)");
    }
    ToPool(batch_[done++]);
  }
  batch_.clear();
}

void LinuxAio::ToPool(uint16_t slot) {
  const uint64_t tag = in_kernel_[slot];
  in_kernel_[slot] = kNoOperationTag;
  const Operation* op = core_.Active(tag);
  if (op == nullptr) return;
  if (!host_->pool().Post(tag, [copy = *op]() -> int64_t { return Call(copy); })) {
    // No pool thread could be started: the result is delivered from the next report.
    deferred_.emplace_back(tag, UV_EAGAIN);
    Signal();
  }
}

void LinuxAio::Signal() {
  const uint64_t one = 1;
  if (eventfd_ >= 0 && write(eventfd_, &one, sizeof one) == sizeof one) own_signals_++;
}

bool LinuxAio::Cancel(uint16_t slot, uint64_t tag) {
  if (slot >= in_kernel_.size() || in_kernel_[slot] != tag) return false;
  if (context_ == 0) return true;
  cancel_calls_++;
  struct io_event result = {};
  const long r = IoCancel(context_, &iocbs_[slot], &result);
  if (r == 0) {
    // Kernels before 4.19 hand a cancelled request's event back here instead of the ring.
    in_kernel_[slot] = kNoOperationTag;
    outstanding_--;
    completed_++;
    deferred_.emplace_back(tag, static_cast<int32_t>(result.res));
    Signal();
  }
  // Otherwise EINPROGRESS (the event comes through the ring) or EINVAL / EAGAIN (no file read or
  // write can be cancelled in flight; one not submitted yet is not found): it runs to its end.
  return true;
}

void LinuxAio::OnReadable() {
  uint64_t count = 0;
  // EAGAIN: a stale report, or (fault injection) a read that got nothing although the counter is
  // set: the events are reaped anyway, ahead of their count, and the counter, still set, makes the
  // poller report the eventfd again when it is re-armed (level-triggered), with nothing to reap.
  const bool got = !InjectFault(FaultSite::aio_eventfd_empty) && read(eventfd_, &count, sizeof count) == sizeof count;
  if (got) {
    // Our own Signal() writes are in the count: they announce deferred_ results, not events.
    const uint64_t own = std::min<uint64_t>(count, own_signals_);
    own_signals_ -= own;
    unreaped_ += static_cast<int64_t>(count - own);
  }
  if (!deferred_.empty()) {
    std::vector<std::pair<uint64_t, int32_t>> results;
    results.swap(deferred_);
    for (const auto& r : results) {
      if (core_.Active(r.first) != nullptr) core_.Finish(TagSlot(r.first), r.second);
    }
  }
  Reap(false);
}

void LinuxAio::OnWatchFailed(int error) {
  // Nothing will report the eventfd: collect what is in flight now, blocking, and send later
  // direct operations to the pool.
  TurnOff("the poller stopped watching the completion eventfd (" + ErrorName(error) + ")");
  Reap(true);
}

void LinuxAio::Reap(bool wait_all) {
  struct io_event events[kReapBatch];
  while (outstanding_ > 0) {
    struct timespec zero = {0, 0};
    const long min = wait_all ? 1 : 0;
    reap_calls_++;
    const long n = IoGetevents(context_, min, kReapBatch, events, wait_all ? nullptr : &zero);
    if (n < 0) {
      if (wait_all && errno == EINTR) continue;
      // EINTR: the counter was read already, so no report would come for what is left: one is
      // asked for (Signal), and the next reaps it. (EINVAL / EFAULT: not expected for a context we
      // own; the next report retries.)
      if (errno == EINTR) Signal();
      break;
    }
    for (long i = 0; i < n; i++) {
      const uint64_t tag = events[i].data;
      const uint16_t slot = TagSlot(tag);
      if (slot < in_kernel_.size() && in_kernel_[slot] == tag) in_kernel_[slot] = kNoOperationTag;
      outstanding_--;
      completed_++;
      unreaped_--;
      // (Finish may launch the next piece of a transfer, or a chain's next member, here.)
      if (core_.Active(tag) != nullptr) core_.Finish(slot, static_cast<int32_t>(events[i].res));
    }
    if (wait_all || n == kReapBatch) continue;
    // Fewer than asked: the ring is empty, unless the kernel answered short while events the
    // eventfd counted are still in it (the kernel adds an event to the ring before it signals the
    // eventfd, so a counted event is there to take). Negative: events taken ahead of their count.
    if (unreaped_ <= 0) break;
    if (n == 0) {
      unreaped_ = 0;  // a count with no event behind it (not expected): dropped, not chased
      break;
    }
  }
}

void LinuxAio::Release(bool host_alive) {
  if (context_ != 0) {
    // Cancels what it can and waits for the rest: no request outlives the buffers it uses.
    IoDestroy(context_);
    context_ = 0;
    outstanding_ = 0;
  }
  if (eventfd_ >= 0) {
    if (host_alive && host_ != nullptr) host_->Unwatch(eventfd_);
    close(eventfd_);
    eventfd_ = -1;
  }
  queued_.clear();
  deferred_.clear();
  unreaped_ = 0;
  own_signals_ = 0;
  in_kernel_.assign(in_kernel_.size(), kNoOperationTag);
  if (state_ != State::Off) TurnOff("the queue is closed");
  host_ = nullptr;
}

#else  // not Linux: the reactor's other platforms have no Linux AIO

int ProbeLinuxAio() { return UV_ENOSYS; }

LinuxAio::LinuxAio(EngineCore& core) : core_(core), state_(State::Off), reason_("Linux AIO is Linux only") {}
LinuxAio::~LinuxAio() = default;
void LinuxAio::Attach(ReactorHost* host, uint32_t entries, bool /*enabled*/, std::string /*off_reason*/) {
  host_ = host;
  entries_ = entries;
}
bool LinuxAio::Launch(uint16_t, uint64_t, const Operation&) { return false; }
void LinuxAio::Flush() {}
bool LinuxAio::Cancel(uint16_t, uint64_t) { return false; }
void LinuxAio::Release(bool) { host_ = nullptr; }
void LinuxAio::OnReadable() {}
void LinuxAio::OnWatchFailed(int) {}

#endif

void LinuxAio::FillInfo(Napi::Object out) const {
  out.Set("linuxAio", state_ == State::Active ? "active" : state_ == State::Unused ? "unused" : "off");
  out.Set("linuxAioReason", reason_);
  out.Set("aioEntries", state_ == State::Active ? entries_ : 0);
  out.Set("aioSubmitted", static_cast<double>(submitted_));
  out.Set("aioCompleted", static_cast<double>(completed_));
  out.Set("aioInFlight", outstanding_);
  out.Set("aioSubmitCalls", static_cast<double>(submit_calls_));
  out.Set("aioReapCalls", static_cast<double>(reap_calls_));
  out.Set("aioRefused", static_cast<double>(refused_));
  out.Set("aioLastRefusal", last_refusal_ == 0 ? std::string() : ErrorName(-last_refusal_));
  out.Set("aioBufferedOps", static_cast<double>(buffered_));
  out.Set("aioCancelCalls", static_cast<double>(cancel_calls_));
}

}  // namespace proactor
