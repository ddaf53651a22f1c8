#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cstring>

#include "../common/fault_schedule.h"
#include "../common/readiness.h"
#include "../common/receive_pool.h"
#include "../common/resource_views.h"
#include "../common/socket_address.h"
#include "../common/socket_options.h"
#include "../common/stat_record.h"
#include "../common/system_error.h"

namespace proactor {

namespace {

unsigned OptionalCount(Napi::Object options, const char* name, unsigned fallback, unsigned max) {
  Napi::Value value = options.Get(name);
  if (value.IsUndefined()) return fallback;
  if (!value.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string("options.") + name + " must be a number");
  double n = value.As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= max)) throw Napi::RangeError::New(options.Env(), std::string("options.") + name + " is out of range");
  return static_cast<unsigned>(n);
}

/* A positioned read of at least this many bytes goes straight to the kernel's io-wq workers
 * (IOSQE_ASYNC) instead of being copied inline, inside io_uring_enter on the JavaScript thread:
 * a page-cached read of a megabyte is a memory copy that takes the thread for ~100 us, and
 * several in flight then copy in parallel on the workers. Only reads with a position (regular
 * files and block devices: a pipe or a socket has none), so that no worker blocks waiting for
 * data. readFile of 1 GiB page-cached, 1 MiB reads: see the README's streams paragraph. */
constexpr uint32_t kAsyncReadMin = 256u << 10;

}  // namespace

unsigned KernelOpcode(uint8_t proactor_opcode) {
  switch (proactor_opcode) {
    case PROACTOR_OP_NOP: return IORING_OP_NOP;
    case PROACTOR_OP_OPEN: return IORING_OP_OPENAT;
    case PROACTOR_OP_CLOSE: return IORING_OP_CLOSE;
    case PROACTOR_OP_READ: return IORING_OP_READ;
    case PROACTOR_OP_WRITE: return IORING_OP_WRITE;
    case PROACTOR_OP_READV: return IORING_OP_READV;
    case PROACTOR_OP_WRITEV: return IORING_OP_WRITEV;
    case PROACTOR_OP_FSYNC:
    case PROACTOR_OP_FDATASYNC: return IORING_OP_FSYNC;
    case PROACTOR_OP_STAT:
    case PROACTOR_OP_FSTAT: return IORING_OP_STATX;
    case PROACTOR_OP_UNLINK: return IORING_OP_UNLINKAT;
    case PROACTOR_OP_RENAME: return IORING_OP_RENAMEAT;
    case PROACTOR_OP_MKDIR: return IORING_OP_MKDIRAT;
    case PROACTOR_OP_FTRUNCATE: return PROACTOR_IORING_OP_FTRUNCATE;
    case PROACTOR_OP_TIMEOUT: return IORING_OP_TIMEOUT;
    case PROACTOR_OP_SOCKET: return PROACTOR_IORING_OP_SOCKET;
    case PROACTOR_OP_BIND: return PROACTOR_IORING_OP_BIND;
    case PROACTOR_OP_LISTEN: return PROACTOR_IORING_OP_LISTEN;
    case PROACTOR_OP_ACCEPT: return IORING_OP_ACCEPT;
    case PROACTOR_OP_CONNECT: return IORING_OP_CONNECT;
    case PROACTOR_OP_RECV: return IORING_OP_RECV;
    case PROACTOR_OP_SEND: return IORING_OP_SEND;
    case PROACTOR_OP_SHUTDOWN: return PROACTOR_IORING_OP_SHUTDOWN;
    case PROACTOR_OP_RECVFROM: return IORING_OP_RECVMSG;
    case PROACTOR_OP_SENDTO: return IORING_OP_SENDMSG;
    case PROACTOR_OP_POLL: return IORING_OP_POLL_ADD;
    case PROACTOR_OP_ACCEPT_MULTI: return IORING_OP_ACCEPT;
    case PROACTOR_OP_RECV_MULTI: return IORING_OP_RECV;
    case PROACTOR_OP_SENDFILE: return IORING_OP_SPLICE;  // two per round, see LaunchSendfile
    default: return kNoKernelOpcode;  // setsockopt, getsockname: plain calls at launch; cancel
  }
}

Napi::Function UringEngine::Define(Napi::Env env) {
  return DefineClass(env, "UringEngine",
                     {
                         InstanceMethod<&UringEngine::Submit>("submit"),
                         InstanceMethod<&UringEngine::WaitSync>("waitSync"),
                         InstanceMethod<&UringEngine::JsRef>("ref"),
                         InstanceMethod<&UringEngine::JsUnref>("unref"),
                         InstanceMethod<&UringEngine::JsClose>("close"),
                         InstanceMethod<&UringEngine::Info>("info"),
                         InstanceMethod<&UringEngine::RegisterBuffers>("registerBuffers"),
                         InstanceMethod<&UringEngine::UnregisterBuffers>("unregisterBuffers"),
                         InstanceMethod<&UringEngine::RegisterFiles>("registerFiles"),
                         InstanceMethod<&UringEngine::UnregisterFiles>("unregisterFiles"),
                         InstanceMethod<&UringEngine::ProvideBuffers>("provideBuffers"),
                     });
}

/* new UringEngine(ring, options?: { sqEntries?, cqEntries?, blockingOps?: number[], sqpoll?: boolean,
 *                                   sqIdleMs?: number }) */
UringEngine::UringEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UringEngine>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "a RingContext is required");
  Napi::Object ring = info[0].As<Napi::Object>();
  Napi::Object options = info.Length() >= 2 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  UringConfig config;
  config.sq_entries = OptionalCount(options, "sqEntries", config.sq_entries, 32768);
  config.cq_entries = OptionalCount(options, "cqEntries", config.cq_entries, 65536);
  config.sqpoll = options.Get("sqpoll").ToBoolean().Value();
  if (config.sqpoll) {
    Napi::Value idle = options.Get("sqIdleMs");
    if (!idle.IsUndefined()) {
      if (!idle.IsNumber()) throw Napi::TypeError::New(env, "options.sqIdleMs must be a number");
      double ms = idle.As<Napi::Number>().DoubleValue();
      if (!(ms >= 0 && ms <= 3600000)) throw Napi::RangeError::New(env, "options.sqIdleMs is out of range");
      config.sq_idle_ms = static_cast<unsigned>(ms);
    }
  }
  Napi::Value forced = options.Get("blockingOps");
  if (forced.IsArray()) {
    Napi::Array list = forced.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) blocking_ops_.push_back(list.Get(i).As<Napi::Number>().Uint32Value());
  }
  UringHost* host = UringHost::Get(env, config);
  core_.Attach(env, ring, host);
  host_ = host;
  ComputeRoutes();
  kernel_.resize(core_.buffers().entries());
  // The RingContext lives as long as this object (see queue_buffers.h).
  info.This().As<Napi::Object>().DefineProperty(Napi::PropertyDescriptor::Value("ring", ring, napi_default));
}

UringEngine::~UringEngine() { core_.Finalize(); }

void UringEngine::KeepAlive(bool alive) {
  if (alive) {
    Napi::ObjectWrap<UringEngine>::Ref();
  } else {
    Napi::ObjectWrap<UringEngine>::Unref();
  }
}

void UringEngine::Release(bool host_alive) {
  ClosePipes();
  if (!host_alive) {
    // Closing the ring dropped every registration.
    buffers_.clear();
    buffers_max_end_.clear();
    buffer_count_ = 0;
    files_.clear();
    file_count_ = 0;
    host_ = nullptr;
  }
  ReleaseBuffers();
  ReleaseFiles();
  ReleaseBufferRing(host_alive);
  host_ = nullptr;
}

UringHost& UringEngine::RequireHost(Napi::Env env) {
  if (core_.closed() || host_ == nullptr) throw CodedError(env, "ERR_PROACTOR_QUEUE_DESTROYED", "the io_uring engine is closed");
  return *host_;
}

// ---- the Engine interface: the core's --------------------------------------------------------

Napi::Value UringEngine::Submit(const Napi::CallbackInfo& info) {
  core_.Submit(info.Env(), info[0].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

Napi::Value UringEngine::WaitSync(const Napi::CallbackInfo& info) {
  const uint32_t min = info[0].As<Napi::Number>().Uint32Value();
  const double timeout_ms = info.Length() > 1 ? info[1].As<Napi::Number>().DoubleValue() : -1;
  return Napi::Number::New(info.Env(), core_.WaitSync(info.Env(), min, timeout_ms));
}

Napi::Value UringEngine::JsRef(const Napi::CallbackInfo& info) {
  core_.SetUserRef(true);
  return info.Env().Undefined();
}

Napi::Value UringEngine::JsUnref(const Napi::CallbackInfo& info) {
  core_.SetUserRef(false);
  return info.Env().Undefined();
}

Napi::Value UringEngine::JsClose(const Napi::CallbackInfo& info) {
  // The ring stays: it belongs to the environment.
  core_.Close();
  return info.Env().Undefined();
}

// ---- launching -----------------------------------------------------------------------------

bool UringEngine::Forced(uint8_t proactor_opcode) const {
  return std::find(blocking_ops_.begin(), blocking_ops_.end(), proactor_opcode) != blocking_ops_.end();
}

bool UringEngine::NeedsPool(uint8_t proactor_opcode) const {
  // Socket operations stay off the pool: see RunsAtLaunch.
  if (HasTrait(proactor_opcode, kSocket)) return false;
  const unsigned op = KernelOpcode(proactor_opcode);
  if (op == kNoKernelOpcode) return false;
  if (Forced(proactor_opcode)) return true;
  return host_ != nullptr && !host_->ring().Supports(op);
}

bool UringEngine::RunsAtLaunch(uint8_t proactor_opcode) const {
  if (!HasTrait(proactor_opcode, kRunsAtLaunch)) return false;
  const unsigned op = KernelOpcode(proactor_opcode);
  if (op == kNoKernelOpcode || Forced(proactor_opcode)) return true;
  return host_ != nullptr && !host_->ring().Supports(op);
}

void UringEngine::ComputeRoutes() {
  for (uint8_t opcode = 0; opcode < PROACTOR_OP_COUNT; opcode++) {
    Route route = Route::Kernel;
    if (RunsAtLaunch(opcode)) {
      route = Route::AtLaunch;
    } else if (HasTrait(opcode, kSocket) && !(host_ != nullptr && host_->ring().Supports(KernelOpcode(opcode)))) {
      // accept, connect, recv and send exist since Linux 5.6, the oldest kernel this runs on.
      route = Route::Unsupported;
    } else if (NeedsPool(opcode)) {
      route = Route::Pool;
    }
    routes_[opcode] = route;
  }
}

bool UringEngine::AtCurrentDirectPosition(const Operation& op) {
  // (Sendfile, a transfer too, was routed before this is asked.)
  if (!HasTrait(op.opcode, kTransfer) || HasTrait(op.opcode, kSocket) || op.offset >= 0) return false;
  return OpenWithDirect(op.fd);
}

Start UringEngine::Launch(uint16_t slot, uint64_t tag, Operation& op, int32_t* result) {
  if (op.opcode == PROACTOR_OP_CLOSE) {
    // Closing a registered descriptor through the queue also drops it from the registration, so
    // that the kernel's reference goes with the descriptor (pool or ring alike).
    if (!files_.empty()) ForgetFile(op.fd);
    if (!stuck_sockets_.empty()) {
      stuck_sockets_.erase(std::remove(stuck_sockets_.begin(), stuck_sockets_.end(), op.fd), stuck_sockets_.end());
    }
  }
  // (Decode refused every opcode outside the table.)
  const Route route = routes_[op.opcode];
  if (route == Route::AtLaunch) {
    *result = static_cast<int32_t>(Call(op));
    return Start::Done;
  }
  if (route == Route::Unsupported) {
    *result = UV_ENOSYS;
    return Start::Done;
  }
  if (op.opcode == PROACTOR_OP_SENDFILE) return LaunchSendfile(slot, tag, op, result);
  if (op.opcode == PROACTOR_OP_RECV_MULTI && buffer_ring_.entries == nullptr) {
    *result = UV_EINVAL;  // aio-core provides buffers first
    return Start::Done;
  }
  if (route == Route::Pool || AtCurrentDirectPosition(op)) {
    // A cancel by descriptor queued for this close must reach the kernel before the close runs.
    if (op.opcode == PROACTOR_OP_CLOSE) host_->Flush();
    return Start::Blocking;
  }
  if (host_->credentials_error() < 0) {
    // SQPOLL: the new credentials could not be registered; running with the old ones is not
    // an option.
    *result = host_->credentials_error();
    return Start::Done;
  }
  io_uring_sqe sqe;
  std::memset(&sqe, 0, sizeof sqe);
  Prepare(slot, tag, op, &sqe);
  if (!buffers_.empty() || !files_.empty()) UseRegistered(op.opcode, &sqe);
  host_->Push(sqe);
  return Start::Submitted;
}

bool UringEngine::SendStuck(int fd) {
  if (!kFaultsCompiledIn) return false;
  if (std::find(stuck_sockets_.begin(), stuck_sockets_.end(), fd) != stuck_sockets_.end()) return true;
  if (!InjectFault(FaultSite::send_stuck)) return false;
  stuck_sockets_.push_back(fd);
  return true;
}

void UringEngine::Prepare(uint16_t slot, uint64_t tag, Operation& op, io_uring_sqe* q) {
  KernelState& k = kernel_[slot];
  k.zero_copy = false;
  k.stuck_send = false;
  q->opcode = static_cast<uint8_t>(KernelOpcode(op.opcode));
  q->user_data = tag;
  q->fd = op.fd;
  switch (op.opcode) {
    case PROACTOR_OP_OPEN:
      q->fd = AT_FDCWD;
      q->addr = reinterpret_cast<uint64_t>(op.path);
      q->len = op.mode;
      q->open_flags = static_cast<uint32_t>(PlatformOpenFlags(op.op_flags));
      return;
    case PROACTOR_OP_READ:
    case PROACTOR_OP_WRITE:
      q->addr = reinterpret_cast<uint64_t>(op.data);
      q->len = CutForFault(op);
      q->off = static_cast<uint64_t>(op.offset);
      if (op.opcode == PROACTOR_OP_READ && op.offset >= 0 && q->len >= kAsyncReadMin) q->flags |= IOSQE_ASYNC;
      return;
    case PROACTOR_OP_READV:
    case PROACTOR_OP_WRITEV:
      q->addr = reinterpret_cast<uint64_t>(op.iov);
      q->len = CutVectorsForFault(op);
      q->off = static_cast<uint64_t>(op.offset);
      return;
    case PROACTOR_OP_FDATASYNC:
      q->fsync_flags = IORING_FSYNC_DATASYNC;
      return;
    case PROACTOR_OP_STAT:
      q->fd = AT_FDCWD;
      q->addr = reinterpret_cast<uint64_t>(op.path);
      q->statx_flags = AT_STATX_SYNC_AS_STAT | ((op.op_flags & PROACTOR_STAT_F_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0);
      q->len = kStatxMask;
      q->off = reinterpret_cast<uint64_t>(op.stat);
      return;
    case PROACTOR_OP_FSTAT:
      q->addr = reinterpret_cast<uint64_t>("");
      q->statx_flags = AT_STATX_SYNC_AS_STAT | AT_EMPTY_PATH;
      q->len = kStatxMask;
      q->off = reinterpret_cast<uint64_t>(op.stat);
      return;
    case PROACTOR_OP_UNLINK:
      q->fd = AT_FDCWD;
      q->addr = reinterpret_cast<uint64_t>(op.path);
      q->unlink_flags = (op.op_flags & PROACTOR_UNLINK_F_DIR) ? AT_REMOVEDIR : 0;
      return;
    case PROACTOR_OP_RENAME:
      q->fd = AT_FDCWD;
      q->addr = reinterpret_cast<uint64_t>(op.path);
      q->len = static_cast<uint32_t>(AT_FDCWD);
      q->off = reinterpret_cast<uint64_t>(op.path2);
      return;
    case PROACTOR_OP_MKDIR:
      q->fd = AT_FDCWD;
      q->addr = reinterpret_cast<uint64_t>(op.path);
      q->len = op.mode;
      return;
    case PROACTOR_OP_FTRUNCATE:
      q->off = static_cast<uint64_t>(op.offset);
      return;
    case PROACTOR_OP_TIMEOUT:
      k.ts.tv_sec = static_cast<int64_t>(op.timeout_ns / 1000000000);
      k.ts.tv_nsec = static_cast<long long>(op.timeout_ns % 1000000000);
      q->fd = 0;
      q->addr = reinterpret_cast<uint64_t>(&k.ts);
      q->len = 1;
      q->off = 0;  // a pure timer, not a completion count; it ends with -ETIME, reported as 0
      return;
    case PROACTOR_OP_SOCKET:
      // fd = domain, off = type | flags, len = protocol. Blocking, as io_uring wants them: it
      // polls internally instead of failing with EAGAIN.
      q->fd = PlatformFamily(op.op_flags);
      q->off = static_cast<uint64_t>(PlatformSocketType(op.mode) | SOCK_CLOEXEC);
      q->len = 0;
      return;
    case PROACTOR_OP_BIND:
    case PROACTOR_OP_CONNECT:
      q->addr = reinterpret_cast<uint64_t>(&op.address->storage);
      q->off = op.address->length;  // addr2: the address length
      return;
    case PROACTOR_OP_LISTEN:
      q->len = op.len;
      return;
    case PROACTOR_OP_ACCEPT:
      q->addr = reinterpret_cast<uint64_t>(&op.address->storage);
      q->off = reinterpret_cast<uint64_t>(&op.address->length);  // addr2: the in/out length
      q->accept_flags = SOCK_CLOEXEC;
      return;
    case PROACTOR_OP_RECV:
    case PROACTOR_OP_SEND:
      q->addr = reinterpret_cast<uint64_t>(op.data);
      q->len = CutForFault(op);
      // A peer that went away gives EPIPE, never SIGPIPE.
      q->msg_flags = op.opcode == PROACTOR_OP_SEND ? kNoSignal : 0;
      if (op.opcode == PROACTOR_OP_SEND && SendStuck(op.fd)) {
        // The socket never becomes writable: what is left is to wait for its error or hang-up
        // (poll always reports those), a cancel, or a close.
        q->opcode = IORING_OP_POLL_ADD;
        q->addr = 0;
        q->len = 0;
        q->msg_flags = 0;
        q->poll32_events = 0;
        k.stuck_send = true;
        return;
      }
      if (op.opcode == PROACTOR_OP_SEND && (op.op_flags & PROACTOR_SEND_F_ZEROCOPY) != 0 &&
          host_->ring().Supports(PROACTOR_IORING_OP_SEND_ZC)) {
        // The kernel posts the result, then (flag NOTIF) that it let go of the buffer: the
        // operation completes at the second, so the queue keeps the buffer until then.
        q->opcode = PROACTOR_IORING_OP_SEND_ZC;
        k.zero_copy = true;
        zero_copy_sends_++;
      }
      return;
    case PROACTOR_OP_POLL:
      q->poll32_events = NativePollEvents(op.op_flags);
      return;
    case PROACTOR_OP_ACCEPT_MULTI:
      // No address buffer: one would be overwritten by every connection before it is read.
      // The core asks getpeername() for each one's peer when it delivers it.
      q->accept_flags = SOCK_CLOEXEC;
      q->ioprio = PROACTOR_IORING_ACCEPT_MULTISHOT;
      return;
    case PROACTOR_OP_RECV_MULTI:
      q->ioprio = PROACTOR_IORING_RECV_MULTISHOT;
      q->flags = PROACTOR_IOSQE_BUFFER_SELECT;
      q->buf_group = core_.id();
      return;
    case PROACTOR_OP_RECVFROM:
    case PROACTOR_OP_SENDTO:
      // One msghdr and iovec per slot, owned by it until the final completion: the kernel reads
      // them (and recvmsg writes the name and its length) while the op runs.
      k.iov.iov_base = op.data;
      k.iov.iov_len = op.len;
      std::memset(&k.hdr, 0, sizeof k.hdr);
      k.hdr.msg_name = &op.address->storage;
      k.hdr.msg_namelen = op.address->length;
      k.hdr.msg_iov = &k.iov;
      k.hdr.msg_iovlen = 1;
      q->addr = reinterpret_cast<uint64_t>(&k.hdr);
      q->len = 1;
      // A peer that went away gives EPIPE, never SIGPIPE.
      q->msg_flags = op.opcode == PROACTOR_OP_SENDTO ? kNoSignal : 0;
      return;
    case PROACTOR_OP_SHUTDOWN:
      q->len = static_cast<uint32_t>(PlatformShutdown(op.op_flags));
      return;
    default:
      return;  // nop, close, fsync: the descriptor is all
  }
}

void UringEngine::Cancel(uint16_t slot, uint64_t tag, const Operation& op) {
  // A sendfile between two splices has nothing in the kernel to cancel: it stops at the next
  // completion.
  if (op.opcode == PROACTOR_OP_SENDFILE) kernel_[slot].splice.cancelled = true;
  if (host_ != nullptr) host_->QueueCancel(tag, op.opcode == PROACTOR_OP_TIMEOUT);
}

void UringEngine::CancelDescriptor(int fd) {
  if (host_ == nullptr) return;
  host_->QueueCancelFd(fd);
  // A sendfile to `fd` may be filling its pipe (a splice on the pipe, which a cancel by
  // descriptor does not find) with its drain to `fd` linked behind: cancel it by its tag.
  for (uint16_t slot = 0; slot < kernel_.size(); slot++) {
    KernelState::Splice& sp = kernel_[slot].splice;
    if (sp.pipe < 0 || sp.cancelled) continue;
    const Operation* op = core_.Active(sp.tag);
    if (op == nullptr || op->opcode != PROACTOR_OP_SENDFILE || op->fd != fd) continue;
    sp.cancelled = true;
    host_->QueueCancel(sp.tag, false);
  }
}

// ---- sendfile through a pipe ---------------------------------------------------------------

Start UringEngine::LaunchSendfile(uint16_t slot, uint64_t tag, Operation& op, int32_t* result) {
  if (op.len == 0) {
    // Nothing to move: sendfile(2) still checks both descriptors, at once.
    *result = static_cast<int32_t>(Call(op));
    return Start::Done;
  }
  if (routes_[PROACTOR_OP_SENDFILE] == Route::Pool) return Start::Blocking;  // forced, or no splice
  if (host_->credentials_error() < 0) {
    *result = host_->credentials_error();
    return Start::Done;
  }
  const int pipe = AcquirePipe();
  if (pipe < 0) return Start::Blocking;  // no descriptor left for a pipe: sendfile(2) needs none
  KernelState::Splice& sp = kernel_[slot].splice;
  sp = KernelState::Splice{};
  sp.pipe = pipe;
  sp.tag = tag;
  sp.position = op.offset;
  sp.remaining = op.len;
  FillPipe(slot, tag, op);
  return Start::Submitted;
}

void UringEngine::FillPipe(uint16_t slot, uint64_t tag, const Operation& op) {
  KernelState::Splice& sp = kernel_[slot].splice;
  const SplicePipe& p = pipes_[sp.pipe];
  // The pipe holds `capacity / page` pages and a fill takes whole pages of the page cache: an
  // unaligned position spans one page more, so ask for one page less then (a short fill costs a
  // round trip).
  static const uint32_t page = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  uint32_t room = p.capacity;
  if (sp.position % page != 0 && room > page) room -= page;
  sp.asked = std::min(sp.remaining, room);
  const bool linked = host_->RoomFor(2);
  io_uring_sqe q;
  std::memset(&q, 0, sizeof q);
  q.opcode = IORING_OP_SPLICE;
  q.user_data = tag;
  q.fd = p.write_end;
  q.off = static_cast<uint64_t>(-1);  // the pipe has no position
  q.splice_fd_in = op.fd_in;
  q.splice_off_in = static_cast<uint64_t>(sp.position);
  q.len = sp.asked;
  if (linked) q.flags = IOSQE_IO_LINK;
  host_->Push(q);
  splice_rounds_++;
  sp.next = KernelState::Splice::Next::Fill;
  sp.linked_drain = linked;
  if (linked) DrainPipe(slot, tag, op, true);
}

void UringEngine::DrainPipe(uint16_t slot, uint64_t tag, const Operation& op, bool linked) {
  KernelState::Splice& sp = kernel_[slot].splice;
  io_uring_sqe q;
  std::memset(&q, 0, sizeof q);
  q.opcode = IORING_OP_SPLICE;
  q.user_data = tag;
  q.fd = op.fd;
  // The output's own position (a socket has none; a regular file advances, as with sendfile).
  q.off = static_cast<uint64_t>(-1);
  q.splice_fd_in = pipes_[sp.pipe].read_end;
  q.splice_off_in = static_cast<uint64_t>(-1);
  // Linked: what the fill is asked for (the drain runs only when the fill got all of it).
  q.len = linked ? sp.asked : sp.in_pipe;
  host_->Push(q);
  if (!linked) sp.next = KernelState::Splice::Next::Drain;
}

void UringEngine::OnLinkCut(uint64_t tag) {
  const Operation* op = core_.Active(tag);
  if (op == nullptr || op->opcode != PROACTOR_OP_SENDFILE) return;
  KernelState::Splice& sp = kernel_[TagSlot(tag)].splice;
  if (sp.pipe < 0 || sp.next != KernelState::Splice::Next::Fill || !sp.linked_drain) return;
  // The fill runs alone: its completion decides the next step as an unlinked fill's does (the
  // bytes it put in the pipe are drained then).
  sp.linked_drain = false;
  splice_links_cut_++;
}

void UringEngine::OnSpliceCompletion(uint16_t slot, uint64_t tag, const Operation& op, int32_t result) {
  KernelState::Splice& sp = kernel_[slot].splice;
  using Next = KernelState::Splice::Next;
  switch (sp.next) {
    case Next::Fill:
      if (result >= 0) {
        sp.in_pipe += static_cast<uint32_t>(result);
        sp.position += result;
        if (result == 0) sp.end = true;
      } else {
        sp.error = result;
      }
      if (sp.linked_drain) {
        // The drain runs (the fill got all it asked for) or the kernel cancels it: either way
        // its completion comes next.
        sp.next = static_cast<uint32_t>(result) == sp.asked ? Next::Drain : Next::CancelledDrain;
        // A cancel that came while the kernel passed from fill to drain may have found neither.
        if (sp.cancelled && sp.next == Next::Drain) host_->QueueCancel(tag, false);
        return;
      }
      break;
    case Next::CancelledDrain:
      // The linked drain of a short or failed fill (ECANCELED): nothing moved.
      break;
    case Next::Drain:
      if (result > 0) {
        const uint32_t moved = std::min(static_cast<uint32_t>(result), sp.in_pipe);
        sp.in_pipe -= moved;
        sp.sent += moved;
        sp.remaining -= moved;
      } else if (result == 0) {
        sp.error = UV_EIO;  // a drain of a non-empty pipe that moved nothing: never loop on it
      } else {
        sp.error = result;
      }
      break;
  }
  // Between two rounds: decide.
  if (host_ == nullptr) return FinishSendfile(slot, UV_ECANCELED);  // the environment is going away
  if (sp.cancelled) return FinishSendfile(slot, UV_ECANCELED);
  if (sp.error < 0) return FinishSendfile(slot, sp.sent > 0 ? static_cast<int32_t>(sp.sent) : sp.error);
  if (sp.in_pipe > 0) {
    // A short fill or a short drain left bytes in the pipe: they go out before anything else.
    splice_partial_drains_++;
    DrainPipe(slot, tag, op, false);
  } else if (sp.end || sp.remaining == 0) {
    return FinishSendfile(slot, static_cast<int32_t>(sp.sent));
  } else {
    FillPipe(slot, tag, op);
  }
  // (Completions are reaped outside submit(), whose end flushes: the next round goes now.)
  host_->Flush();
}

void UringEngine::FinishSendfile(uint16_t slot, int32_t result) {
  KernelState::Splice& sp = kernel_[slot].splice;
  if (sp.pipe >= 0) {
    SplicePipe& p = pipes_[sp.pipe];
    if (sp.in_pipe > 0) {
      // Bytes of this operation are left in the pipe: no later one may send them.
      close(p.read_end);
      close(p.write_end);
      p = SplicePipe{};
      pipes_discarded_++;
    }
    p.busy = false;
  }
  sp.pipe = -1;
  core_.Finish(slot, result);
}

int UringEngine::AcquirePipe() {
  int free_index = -1;
  for (size_t i = 0; i < pipes_.size(); i++) {
    if (pipes_[i].busy) continue;
    if (pipes_[i].read_end >= 0) {
      pipes_[i].busy = true;
      return static_cast<int>(i);
    }
    if (free_index < 0) free_index = static_cast<int>(i);
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  // Larger pipes mean fewer rounds for large files. Past the per-user soft limit on pipe
  // memory the kernel refuses (or gives one page): the pipe keeps whatever size it has.
  (void)fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
  const int size = fcntl(fds[1], F_GETPIPE_SZ);
  SplicePipe p;
  p.read_end = fds[0];
  p.write_end = fds[1];
  p.capacity = size > 0 ? static_cast<uint32_t>(size) : 4096;
  p.busy = true;
  if (free_index >= 0) {
    pipes_[free_index] = p;
    return free_index;
  }
  pipes_.push_back(p);
  return static_cast<int>(pipes_.size() - 1);
}

void UringEngine::ClosePipes() {
  // (Called once every operation completed, or when the environment goes away: a splice still
  // in the kernel holds its own reference to the pipe.)
  for (SplicePipe& p : pipes_) {
    if (p.read_end >= 0) close(p.read_end);
    if (p.write_end >= 0) close(p.write_end);
  }
  pipes_.clear();
}

// ---- completion ----------------------------------------------------------------------------

void UringEngine::OnCompletion(uint64_t tag, int32_t result, uint32_t cqe_flags) {
  const bool has_buffer = (cqe_flags & PROACTOR_IORING_CQE_F_BUFFER) != 0;
  const uint32_t buffer = cqe_flags >> PROACTOR_IORING_CQE_BUFFER_SHIFT;
  if (has_buffer && buffer_ring_.in_kernel > 0) buffer_ring_.in_kernel--;
  const Operation* op = core_.Active(tag);
  if (op == nullptr) {
    // Nobody wants the data: the buffer goes straight back to the kernel.
    if (has_buffer) {
      RecycleBuffer(buffer);
      PublishBuffers();
    }
    return;
  }
  const uint16_t index = TagSlot(tag);
  const bool more = (cqe_flags & PROACTOR_IORING_CQE_F_MORE) != 0;
  switch (op->opcode) {
    case PROACTOR_OP_SENDFILE:
      if (kernel_[index].splice.pipe >= 0) {
        OnSpliceCompletion(index, tag, *op, result);
        return;
      }
      break;
    case PROACTOR_OP_RECV_MULTI:
      if (has_buffer) {
        if (result > 0) {
          core_.PostItem(index, result, PROACTOR_CQE_F_MORE | PROACTOR_CQE_F_BUFFER, buffer);
        } else {
          RecycleBuffer(buffer);
          PublishBuffers();
        }
      }
      if (more) return;
      // Ended with data (its item is posted above) or by the kernel for its own reasons:
      // UV_ENOBUFS tells the queue to start receiving again.
      core_.Finish(index, result > 0 ? UV_ENOBUFS : result);
      return;
    case PROACTOR_OP_ACCEPT_MULTI:
      if (result >= 0 && AcceptedOrFault(result, true) >= 0) core_.PostItem(index, result, PROACTOR_CQE_F_MORE, 0);
      if (more) return;
      core_.Finish(index, result >= 0 ? UV_ENOBUFS : result);
      return;
    case PROACTOR_OP_ACCEPT:
      if (result >= 0) result = AcceptedOrFault(result, false);
      break;
    default:
      break;
  }
  KernelState& k = kernel_[index];
  if (k.stuck_send) {
    k.stuck_send = false;
    if (result >= 0) {
      // The poll saw an error or a hang-up: the send itself says which.
      io_uring_sqe sqe;
      std::memset(&sqe, 0, sizeof sqe);
      sqe.opcode = IORING_OP_SEND;
      sqe.user_data = tag;
      sqe.fd = op->fd;
      sqe.addr = reinterpret_cast<uint64_t>(op->data);
      sqe.len = op->len;
      sqe.msg_flags = kNoSignal;
      host_->Push(sqe);
      host_->Flush();
      return;
    }
  }
  if (k.zero_copy) {
    if ((cqe_flags & PROACTOR_IORING_CQE_F_NOTIF) != 0) {
      core_.Finish(index, k.zero_copy_result);
      return;
    }
    if (more) {
      // The notification follows once the kernel let go of the buffer.
      k.zero_copy_result = result;
      return;
    }
  }
  core_.Finish(index, result);
}

int32_t UringEngine::Settle(uint16_t slot, Operation& op, int32_t result) {
  switch (op.opcode) {
    case PROACTOR_OP_TIMEOUT:
      return result == -ETIME ? 0 : result;
    case PROACTOR_OP_POLL:
      // The kernel also reports events nobody asked for (it always watches for RDHUP): only
      // what was asked, plus ERR and HUP, as poll(2) does.
      if (result < 0) return result;
      return static_cast<int32_t>(
          PortablePollEvents(static_cast<uint32_t>(result) & (NativePollEvents(op.op_flags) | POLLERR | POLLHUP)));
    case PROACTOR_OP_RECVFROM:
      // recvmsg wrote the sender's length into the msghdr.
      if (result >= 0) op.address->length = kernel_[slot].hdr.msg_namelen;
      return result;
    default:
      return result;
  }
}

void UringEngine::BuffersDelivered(const std::vector<uint32_t>& ids) {
  for (uint32_t id : ids) RecycleBuffer(id);
  PublishBuffers();
}

// ---- registered buffers and files, provided buffers ------------------------------------------

void UringEngine::UseRegistered(uint8_t opcode, io_uring_sqe* q) {
  if ((opcode == PROACTOR_OP_READ || opcode == PROACTOR_OP_WRITE) && !buffers_.empty()) {
    const uintptr_t start = static_cast<uintptr_t>(q->addr);
    const uintptr_t end = start + q->len;
    // The buffers starting at or before `start`, nearest first, while one of them may still
    // reach `end`.
    auto it = std::upper_bound(buffers_.begin(), buffers_.end(), start,
                               [](uintptr_t a, const RegisteredBuffer& b) { return a < b.start; });
    for (size_t i = static_cast<size_t>(it - buffers_.begin()); i > 0 && buffers_max_end_[i - 1] >= end; i--) {
      const RegisteredBuffer& b = buffers_[i - 1];
      if (b.end >= end) {
        q->opcode = opcode == PROACTOR_OP_READ ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
        q->buf_index = static_cast<uint16_t>(b.index);
        fixed_buffer_ops_++;
        break;
      }
    }
  }
  if (!files_.empty()) {
    switch (opcode) {
      case PROACTOR_OP_READ:
      case PROACTOR_OP_WRITE:
      case PROACTOR_OP_READV:
      case PROACTOR_OP_WRITEV:
      case PROACTOR_OP_FSYNC:
      case PROACTOR_OP_FDATASYNC:
      case PROACTOR_OP_FTRUNCATE: {
        // (OPENAT, CLOSE and STATX take paths or plain descriptors: left alone.)
        auto f = files_.find(q->fd);
        if (f != files_.end()) {
          q->fd = static_cast<int32_t>(f->second);
          q->flags |= IOSQE_FIXED_FILE;
          fixed_file_ops_++;
        }
        break;
      }
      default:
        break;
    }
  }
}

void UringEngine::ForgetFile(int fd) {
  auto f = files_.find(fd);
  if (f == files_.end()) return;
  const uint32_t index = f->second;
  files_.erase(f);
  if (host_ == nullptr) return;
  host_->ReleaseRange(RsrcKind::Files, index, 1);
  // Clear it now (after the SQEs before this close were consumed), not after the close ran.
  host_->SettleReleases();
}

void UringEngine::ReleaseBuffers() {
  if (host_ != nullptr && buffer_count_ > 0) host_->ReleaseRange(RsrcKind::Buffers, buffer_base_, buffer_count_);
  buffers_.clear();
  buffers_max_end_.clear();
  buffer_count_ = 0;
}

void UringEngine::ReleaseFiles() {
  if (host_ != nullptr && !files_.empty()) {
    // The indexes still registered (a close through the queue released its own), in runs.
    std::vector<uint32_t> live;
    live.reserve(files_.size());
    for (const auto& f : files_) live.push_back(f.second);
    std::sort(live.begin(), live.end());
    size_t i = 0;
    while (i < live.size()) {
      size_t j = i + 1;
      while (j < live.size() && live[j] == live[j - 1] + 1) j++;
      host_->ReleaseRange(RsrcKind::Files, live[i], static_cast<uint32_t>(j - i));
      i = j;
    }
  }
  files_.clear();
  file_count_ = 0;
}

namespace {

/* A registration failure, with the likely cause spelled out. */
Napi::Error RegistrationError(Napi::Env env, int err, bool buffers) {
  Napi::Error error = SystemError(env, err, "io_uring_register");
  std::string what = buffers ? "registerBuffers" : "registerFiles";
  std::string message = what + ": " + uv_err_name(err) + " (" + uv_strerror(err) + ")";
  switch (err) {
    case -ENOMEM:
      message += buffers ? ": the kernel could not pin the buffers; unless the process has CAP_IPC_LOCK, registered "
                           "buffers count against the locked-memory limit (RLIMIT_MEMLOCK, `ulimit -l`): raise it "
                           "or register less memory"
                         : ": out of kernel memory";
      break;
    case -ENOSPC:
      message += buffers ? ": the registered-buffer table of this thread's io_uring (16384 entries, shared by its "
                           "queues) is full"
                         : ": the registered-file table of this thread's io_uring (shared by its queues, at most "
                           "16384 entries and RLIMIT_NOFILE) is full";
      break;
    case -EINVAL:
      message += ": this kernel cannot register them into a sparse table (that needs Linux 5.19)";
      break;
    case -EBADF:
      if (!buffers) message += ": a descriptor in the list is not open (or is an io_uring)";
      break;
    case -EFAULT:
      if (buffers) message += ": the kernel cannot pin this memory for I/O";
      break;
    case -EMFILE:
      message += ": RLIMIT_NOFILE is too small for the registered-file table";
      break;
    default:
      break;
  }
  error.Set("message", Napi::String::New(env, message));
  return error;
}

}  // namespace

/* registerBuffers(buffers: ArrayBufferView[]): replaces this queue's registered buffers. */
Napi::Value UringEngine::RegisterBuffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  UringHost& host = RequireHost(env);
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "buffers must be an array");
  Napi::Array list = info[0].As<Napi::Array>();
  const uint32_t n = list.Length();
  if (n > 1024) throw Napi::RangeError::New(env, "at most 1024 buffers can be registered");
  if (n == 0) {
    ReleaseBuffers();
    return env.Undefined();
  }
  std::vector<struct iovec> iov(n);
  std::vector<RegisteredBuffer> registered(n);
  for (uint32_t i = 0; i < n; i++) {
    ByteSpan span;
    if (!GetByteSpan(env, list.Get(i), &span)) throw Napi::TypeError::New(env, "buffers must be ArrayBufferViews");
    if (span.length == 0 || span.length > (size_t{1} << 30) || span.data == nullptr) {
      throw Napi::RangeError::New(env, "each registered buffer must hold 1 byte to 1 GiB");
    }
    iov[i].iov_base = span.data;
    iov[i].iov_len = span.length;
    registered[i].start = reinterpret_cast<uintptr_t>(span.data);
    registered[i].end = registered[i].start + span.length;
  }
  uint32_t base = 0;
  // The new registration first: on failure the old one stays.
  int r = host.RegisterRange(RsrcKind::Buffers, iov.data(), n, &base);
  if (r < 0) throw RegistrationError(env, r, true);
  ReleaseBuffers();
  for (uint32_t i = 0; i < n; i++) registered[i].index = base + i;
  std::sort(registered.begin(), registered.end(),
            [](const RegisteredBuffer& a, const RegisteredBuffer& b) { return a.start < b.start; });
  buffers_ = std::move(registered);
  buffers_max_end_.resize(n);
  uintptr_t max_end = 0;
  for (uint32_t i = 0; i < n; i++) buffers_max_end_[i] = max_end = std::max(max_end, buffers_[i].end);
  buffer_base_ = base;
  buffer_count_ = n;
  return env.Undefined();
}

Napi::Value UringEngine::UnregisterBuffers(const Napi::CallbackInfo& info) {
  ReleaseBuffers();
  return info.Env().Undefined();
}

/* registerFiles(fds: number[]): replaces this queue's registered descriptors. */
Napi::Value UringEngine::RegisterFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  UringHost& host = RequireHost(env);
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "fds must be an array");
  Napi::Array list = info[0].As<Napi::Array>();
  const uint32_t count = list.Length();
  if (count > 1024) throw Napi::RangeError::New(env, "at most 1024 descriptors can be registered");
  std::vector<int32_t> fds;
  fds.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, "fds must be numbers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 2147483647) || d != static_cast<double>(static_cast<int32_t>(d))) {
      throw Napi::RangeError::New(env, "fds must be descriptors (integers >= 0)");
    }
    int32_t fd = static_cast<int32_t>(d);
    if (std::find(fds.begin(), fds.end(), fd) == fds.end()) fds.push_back(fd);
  }
  if (fds.empty()) {
    ReleaseFiles();
    return env.Undefined();
  }
  const uint32_t n = static_cast<uint32_t>(fds.size());
  uint32_t base = 0;
  int r = host.RegisterRange(RsrcKind::Files, fds.data(), n, &base);
  if (r < 0) throw RegistrationError(env, r, false);
  ReleaseFiles();
  for (uint32_t i = 0; i < n; i++) files_[fds[i]] = base + i;
  file_base_ = base;
  file_count_ = n;
  return env.Undefined();
}

Napi::Value UringEngine::UnregisterFiles(const Napi::CallbackInfo& info) {
  ReleaseFiles();
  return info.Env().Undefined();
}

/* provideBuffers(memory: Uint8Array, size: number, count: number): the buffers of
 * PROACTOR_OP_RECV_MULTI, once per engine. count is a power of two <= 32768. */
Napi::Value UringEngine::ProvideBuffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  UringHost& host = RequireHost(env);
  if (buffer_ring_.entries != nullptr) throw CodedError(env, "ERR_INVALID_STATE", "buffers were already provided");
  const ProvidedBlock block = ReadProvidedBlock(info);
  const uint32_t n = block.count;
  if (n > 32768 || (n & (n - 1)) != 0) throw Napi::RangeError::New(env, "count must be a power of two up to 32768");
  const long page = sysconf(_SC_PAGESIZE);
  const size_t ring_bytes = ((sizeof(PbufEntry) * n + static_cast<size_t>(page) - 1) / page) * page;
  void* mem = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw SystemError(env, -errno, "mmap");
  PbufRegister reg;
  std::memset(&reg, 0, sizeof reg);
  reg.ring_addr = reinterpret_cast<uint64_t>(mem);
  reg.ring_entries = n;
  reg.bgid = core_.id();
  int r = host.ring().Register(PROACTOR_IORING_REGISTER_PBUF_RING, &reg, 1);
  if (r < 0) {
    munmap(mem, ring_bytes);
    throw SystemError(env, r, "io_uring_register");
  }
  buffer_ring_.entries = static_cast<PbufEntry*>(mem);
  buffer_ring_.mapped = ring_bytes;
  buffer_ring_.base = block.data;
  buffer_ring_.size = block.size;
  buffer_ring_.count = n;
  buffer_ring_.tail = 0;
  buffer_ring_.memory = Napi::Persistent(info[0]);
  for (uint32_t id = 0; id < n; id++) RecycleBuffer(id);
  PublishBuffers();
  return env.Undefined();
}

void UringEngine::RecycleBuffer(uint32_t id) {
  BufferRing& b = buffer_ring_;
  if (b.entries == nullptr || id >= b.count) return;
  // Field by field: entries[0].resv is the ring's tail, which only PublishBuffers writes.
  PbufEntry& e = b.entries[b.tail & (b.count - 1)];
  e.addr = reinterpret_cast<uint64_t>(b.base + static_cast<size_t>(id) * b.size);
  e.len = b.size;
  e.bid = static_cast<uint16_t>(id);
  b.tail++;
  b.in_kernel++;
}

void UringEngine::PublishBuffers() {
  BufferRing& b = buffer_ring_;
  if (b.entries == nullptr) return;
  __atomic_store_n(&b.entries[0].resv, b.tail, __ATOMIC_RELEASE);
}

void UringEngine::ReleaseBufferRing(bool ring_alive) {
  BufferRing& b = buffer_ring_;
  if (b.entries == nullptr) return;
  if (ring_alive && host_ != nullptr) {
    PbufRegister reg;
    std::memset(&reg, 0, sizeof reg);
    reg.bgid = core_.id();
    (void)host_->ring().Register(PROACTOR_IORING_UNREGISTER_PBUF_RING, &reg, 1);
  }
  munmap(b.entries, b.mapped);
  b.entries = nullptr;
  b.mapped = 0;
  b.base = nullptr;
  b.count = 0;
  b.size = 0;
  b.memory.Reset();
}

/* Diagnostics for tests and for @proactor/aio's explanations. */
Napi::Value UringEngine::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (host_ != nullptr) {
    out.Set("sqEntries", host_->ring().sq_entries());
    out.Set("cqEntries", host_->ring().cq_entries());
    out.Set("features", host_->ring().features());
    out.Set("ringFd", host_->ring().fd());
    out.Set("overflowFlushes", static_cast<double>(host_->overflow_flushes()));
    out.Set("wakeups", static_cast<double>(host_->wakeups()));
    out.Set("sqpoll", host_->ring().sqpoll());
    out.Set("personality", host_->personality());
    out.Set("enterCalls", static_cast<double>(host_->ring().enter_calls()));
    out.Set("sqPending", host_->ring().SqPending());
  }
  core_.FillInfo(out);
  out.Set("fixedBufferOps", static_cast<double>(fixed_buffer_ops_));
  out.Set("fixedFileOps", static_cast<double>(fixed_file_ops_));
  out.Set("registeredBuffers", buffer_count_);
  out.Set("bufferIndexBase", buffer_base_);
  out.Set("registeredFiles", static_cast<uint32_t>(files_.size()));
  out.Set("fileIndexBase", file_base_);
  out.Set("zeroCopySends", static_cast<double>(zero_copy_sends_));
  out.Set("spliceRounds", static_cast<double>(splice_rounds_));
  out.Set("splicePartialDrains", static_cast<double>(splice_partial_drains_));
  out.Set("spliceLinksCut", static_cast<double>(splice_links_cut_));
  out.Set("splicePipes", static_cast<uint32_t>(pipes_.size()));
  out.Set("splicePipesDiscarded", static_cast<double>(pipes_discarded_));
  out.Set("providedBuffers", buffer_ring_.count);
  out.Set("providedBufferSize", buffer_ring_.size);
  out.Set("providedBuffersInKernel", buffer_ring_.in_kernel);
  Napi::Array blocking = Napi::Array::New(env);
  uint32_t k = 0;
  for (uint8_t op = 0; op < PROACTOR_OP_CANCEL; op++) {
    if (NeedsPool(op)) blocking.Set(k++, Napi::Number::New(env, op));
  }
  out.Set("blockingOps", blocking);
  Napi::Array at_launch = Napi::Array::New(env);
  k = 0;
  for (uint8_t op = PROACTOR_OP_SOCKET; op <= PROACTOR_OP_RECV_MULTI; op++) {
    if (RunsAtLaunch(op)) at_launch.Set(k++, Napi::Number::New(env, op));
  }
  out.Set("launchOps", at_launch);
  return out;
}

}  // namespace proactor
