#include "uring_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "../common/poll_events.h"
#include "../common/resource_views.h"
#include "../common/stat_area.h"
#include "../common/system_error.h"
#include "uring_blocking.h"

namespace proactor {

namespace {

constexpr unsigned kNoKernelOpcode = 0x10000;

bool IsTransfer(uint8_t opcode) {
  return opcode == PROACTOR_OP_READ || opcode == PROACTOR_OP_WRITE || opcode == PROACTOR_OP_READV ||
         opcode == PROACTOR_OP_WRITEV || opcode == PROACTOR_OP_RECV || opcode == PROACTOR_OP_SEND ||
         opcode == PROACTOR_OP_RECVFROM || opcode == PROACTOR_OP_SENDTO;
}

bool IsSocketOp(uint8_t opcode) { return opcode >= PROACTOR_OP_SOCKET && opcode <= PROACTOR_OP_RECV_MULTI; }

/* Operations that may wait on their descriptor for as long as the peer likes: closing the
 * descriptor through the queue ends them (ECANCELED), as on every backend. */
bool IsWaitingOp(uint8_t opcode) {
  switch (opcode) {
    case PROACTOR_OP_ACCEPT:
    case PROACTOR_OP_CONNECT:
    case PROACTOR_OP_RECV:
    case PROACTOR_OP_SEND:
    case PROACTOR_OP_RECVFROM:
    case PROACTOR_OP_SENDTO:
    case PROACTOR_OP_POLL:
    case PROACTOR_OP_ACCEPT_MULTI:
    case PROACTOR_OP_RECV_MULTI:
      return true;
    default:
      return false;
  }
}

/* Socket operations that never wait, and so may be plain system calls made at launch. */
bool CanRunAtLaunch(uint8_t opcode) {
  return opcode == PROACTOR_OP_SOCKET || opcode == PROACTOR_OP_BIND || opcode == PROACTOR_OP_LISTEN ||
         opcode == PROACTOR_OP_SHUTDOWN || opcode == PROACTOR_OP_SETSOCKOPT || opcode == PROACTOR_OP_GETSOCKNAME;
}

/* A PROACTOR_SO_* option as a setsockopt level and name; false for an unknown one. */
bool SocketOption(uint32_t option, int* level, int* name) {
  switch (option) {
    case PROACTOR_SO_REUSEADDR: *level = SOL_SOCKET; *name = SO_REUSEADDR; return true;
    case PROACTOR_SO_REUSEPORT: *level = SOL_SOCKET; *name = SO_REUSEPORT; return true;
    case PROACTOR_SO_NODELAY: *level = IPPROTO_TCP; *name = TCP_NODELAY; return true;
    case PROACTOR_SO_KEEPALIVE: *level = SOL_SOCKET; *name = SO_KEEPALIVE; return true;
    default: return false;
  }
}

/* An Error with a stable `code`: every error the library throws carries one. */
Napi::Error CodedError(Napi::Env env, const char* code, const char* message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

unsigned OptionalCount(Napi::Object options, const char* name, unsigned fallback, unsigned max) {
  Napi::Value value = options.Get(name);
  if (value.IsUndefined()) return fallback;
  if (!value.IsNumber()) throw Napi::TypeError::New(options.Env(), std::string("options.") + name + " must be a number");
  double n = value.As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= max)) throw Napi::RangeError::New(options.Env(), std::string("options.") + name + " is out of range");
  return static_cast<unsigned>(n);
}

}  // namespace

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

/* new UringEngine(ring, options?: { sqEntries?, cqEntries?, disableOps?: number[], sqpoll?: boolean,
 *                                   sqIdleMs?: number }) */
UringEngine::UringEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UringEngine>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "a RingContext is required");
  Napi::Object ring = info[0].As<Napi::Object>();
  ring_js_.Bind(env, ring);
  if (ring_js_.entries() > 0x10000) throw Napi::RangeError::New(env, "ring.entries is out of range");
  // The RingContext lives as long as this object (see js_ring.h).
  info.This().As<Napi::Object>().DefineProperty(Napi::PropertyDescriptor::Value("ring", ring, napi_default));

  Napi::Object options = info.Length() >= 2 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  EnvRingConfig config;
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
  Napi::Value disabled = options.Get("disableOps");
  if (disabled.IsArray()) {
    Napi::Array list = disabled.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) blocking_ops_.push_back(list.Get(i).As<Napi::Number>().Uint32Value());
  }

  slots_.resize(ring_js_.entries());
  open_max_ = sysconf(_SC_OPEN_MAX);
  if (open_max_ <= 0) open_max_ = 1 << 20;
  ring_ = EnvRing::Get(env, config);
  id_ = ring_->Register(env, this);
}

UringEngine::~UringEngine() { Unregister(true); }

void UringEngine::Unregister(bool in_finalizer) {
  ReleaseBuffers();
  ReleaseFiles();
  ReleaseBufferRing(ring_ != nullptr);
  if (ring_ != nullptr) ring_->Unregister(id_);
  ring_ = nullptr;
  if (self_ref_ && !in_finalizer) Napi::ObjectWrap<UringEngine>::Unref();
  self_ref_ = false;
}

void UringEngine::Detach() {
  // The environment is going away: its ring drained what it could; nothing is delivered now.
  ring_ = nullptr;
  closed_ = true;
  // Closing the ring drops every registration.
  buffers_.clear();
  buffers_max_end_.clear();
  buffer_count_ = 0;
  files_.clear();
  file_count_ = 0;
  ReleaseBufferRing(false);
  waiting_fds_.clear();
  waiting_descriptors_ = 0;
  if (self_ref_) Napi::ObjectWrap<UringEngine>::Unref();
  self_ref_ = false;
}

// ---- submission ----------------------------------------------------------------------------

Napi::Value UringEngine::Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_ || ring_ == nullptr) throw CodedError(env, "ERR_PROACTOR_QUEUE_DESTROYED", "the io_uring engine is closed");
  uint32_t count = info[0].As<Napi::Number>().Uint32Value();
  if (count > ring_js_.submission_capacity()) throw Napi::RangeError::New(env, "submit count exceeds the submission buffer");
  napi_value resources = ring_js_.Resources();
  const uint32_t entries = ring_js_.entries();
  ring_->CheckCredentials();

  bool in_chain = false;      /* the previous operation links to this one */
  bool chain_broken = false;  /* a member of this chain failed here: ECANCELED the rest */
  /* The members of the current chain after its head, in order (null outside a chain). */
  std::shared_ptr<std::deque<uint16_t>> chain_rest;
  for (uint32_t i = 0; i < count; i++) {
    proactor_sqe e;
    std::memcpy(&e, &ring_js_.Submission(i), sizeof e);
    if (e.opcode == PROACTOR_OP_CANCEL) {
      QueueCancel(e.target);
      continue;
    }
    if (e.slot >= entries || slots_[e.slot].busy) continue;  // aio-core never does this
    const uint16_t index = static_cast<uint16_t>(e.slot);
    const bool link = (e.flags & PROACTOR_SQE_F_LINK) != 0;
    Slot& slot = slots_[index];
    slot.busy = true;
    slot.generation++;
    slot.opcode = e.opcode;
    slot.chain.reset();
    in_flight_++;

    const bool head = !in_chain;
    if (head) {
      chain_broken = false;
      chain_rest = link ? std::make_shared<std::deque<uint16_t>>() : nullptr;
    }
    in_chain = link;
    if (chain_broken) {
      PostLocal(index, -ECANCELED);
      continue;
    }
    std::memset(&slot.prepared, 0, sizeof slot.prepared);
    int err = Prepare(e, resources, slot, &slot.prepared);
    if (err < 0) {
      // The members after this one are cancelled; the ones before it still run.
      PostLocal(index, err);
      chain_broken = link;
      continue;
    }
    if (chain_rest == nullptr) {
      Launch(index);
    } else if (head) {
      // Linked operations run one at a time: the head starts now and owns the list of the
      // members after it; each member is launched when its predecessor succeeded (Finish).
      slot.chain = chain_rest;
      Launch(index);
    } else {
      slot.where = Slot::Where::Sequenced;
      chain_rest->push_back(index);
    }
  }
  ring_->Flush();
  if (!local_.empty()) ring_->Wake();
  UpdateRef();
  return env.Undefined();
}

bool UringEngine::NeedsPool(uint8_t proactor_opcode) const {
  // Socket operations stay off the pool: see RunsAtLaunch.
  if (IsSocketOp(proactor_opcode)) return false;
  unsigned op = KernelOpcode(proactor_opcode);
  if (op == kNoKernelOpcode) return false;
  if (std::find(blocking_ops_.begin(), blocking_ops_.end(), proactor_opcode) != blocking_ops_.end()) return true;
  return ring_ != nullptr && !ring_->ring().Supports(op);
}

bool UringEngine::RunsAtLaunch(uint8_t proactor_opcode) const {
  if (!CanRunAtLaunch(proactor_opcode)) return false;
  unsigned op = KernelOpcode(proactor_opcode);
  if (op == kNoKernelOpcode) return true;
  if (std::find(blocking_ops_.begin(), blocking_ops_.end(), proactor_opcode) != blocking_ops_.end()) return true;
  return ring_ != nullptr && !ring_->ring().Supports(op);
}

unsigned UringEngine::KernelOpcode(uint8_t proactor_opcode) {
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
    default: return kNoKernelOpcode;  // setsockopt, getsockname: plain calls (RunAtLaunch)
  }
}

int UringEngine::Prepare(const proactor_sqe& e, napi_value resources, Slot& slot, io_uring_sqe* q) {
  napi_env env = env_;
  auto resource = [&](uint32_t k) -> napi_value {
    napi_value value = nullptr;
    if (napi_get_element(env, resources, 2 * e.slot + k, &value) != napi_ok) return nullptr;
    return value;
  };
  auto path = [&](uint32_t k, std::string* out) -> bool {
    napi_value value = resource(k);
    return value != nullptr && CopyPath(env, value, out);
  };
  auto span_of = [&](ByteSpan* span) -> bool {
    napi_value value = resource(0);
    if (value == nullptr || !GetByteSpan(env, value, span)) return false;
    return e.buf_offset <= span->length && e.len <= span->length - e.buf_offset;
  };
  auto sockaddr = [&]() -> SocketAddress* {
    if (!slot.sockaddr) slot.sockaddr.reset(new (std::nothrow) SocketAddress{});
    return slot.sockaddr.get();
  };
  slot.expected = 0;
  slot.zero_copy = false;
  slot.waiting_fd = -1;
  q->opcode = static_cast<uint8_t>(KernelOpcode(e.opcode));
  q->user_data = MakeUserData(slot.generation, id_, static_cast<uint16_t>(e.slot));
  switch (e.opcode) {
    case PROACTOR_OP_NOP:
      return 0;
    case PROACTOR_OP_OPEN:
      if (!path(0, &slot.path0)) return -EINVAL;
      q->fd = AT_FDCWD;
      q->addr = reinterpret_cast<uint64_t>(slot.path0.c_str());
      q->len = e.mode;
      // As libuv does: descriptors are not inherited by child processes.
      q->open_flags = e.op_flags | O_CLOEXEC;
      return 0;
    case PROACTOR_OP_CLOSE:
      q->fd = e.fd;
      return 0;
    case PROACTOR_OP_READ:
    case PROACTOR_OP_WRITE: {
      napi_value value = resource(0);
      ByteSpan span;
      if (value == nullptr || !GetByteSpan(env, value, &span)) return -EINVAL;
      if (e.buf_offset > span.length || e.len > span.length - e.buf_offset) return -EINVAL;
      q->fd = e.fd;
      q->addr = reinterpret_cast<uint64_t>(span.data + e.buf_offset);
      q->len = e.len;
      q->off = static_cast<uint64_t>(e.offset);
      slot.expected = e.len;
      return 0;
    }
    case PROACTOR_OP_READV:
    case PROACTOR_OP_WRITEV: {
      if (e.len > PROACTOR_IOV_MAX) return -EINVAL;
      if (slot.iov_capacity < e.len) {
        slot.iov.reset(new (std::nothrow) struct iovec[e.len]);
        slot.iov_capacity = slot.iov ? e.len : 0;
        if (!slot.iov) return -ENOMEM;
      }
      napi_value list = resource(0);
      size_t total = 0;
      if (list == nullptr || !GetIovecs(env, list, e.len, slot.iov.get(), &total)) return -EINVAL;
      q->fd = e.fd;
      q->addr = reinterpret_cast<uint64_t>(slot.iov.get());
      q->len = e.len;
      q->off = static_cast<uint64_t>(e.offset);
      slot.expected = total;
      return 0;
    }
    case PROACTOR_OP_FSYNC:
    case PROACTOR_OP_FDATASYNC:
      q->fd = e.fd;
      q->fsync_flags = e.opcode == PROACTOR_OP_FDATASYNC ? IORING_FSYNC_DATASYNC : 0;
      return 0;
    case PROACTOR_OP_STAT:
    case PROACTOR_OP_FSTAT:
      if (!slot.stx) {
        slot.stx.reset(new (std::nothrow) struct statx);
        if (!slot.stx) return -ENOMEM;
      }
      if (e.opcode == PROACTOR_OP_STAT) {
        if (!path(0, &slot.path0)) return -EINVAL;
        q->fd = AT_FDCWD;
        q->addr = reinterpret_cast<uint64_t>(slot.path0.c_str());
        q->statx_flags = AT_STATX_SYNC_AS_STAT | ((e.op_flags & PROACTOR_STAT_F_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0);
      } else {
        q->fd = e.fd;
        q->addr = reinterpret_cast<uint64_t>("");
        q->statx_flags = AT_STATX_SYNC_AS_STAT | AT_EMPTY_PATH;
      }
      q->len = kStatxMask;
      q->off = reinterpret_cast<uint64_t>(slot.stx.get());
      return 0;
    case PROACTOR_OP_UNLINK:
      if (!path(0, &slot.path0)) return -EINVAL;
      q->fd = AT_FDCWD;
      q->addr = reinterpret_cast<uint64_t>(slot.path0.c_str());
      q->unlink_flags = (e.op_flags & PROACTOR_UNLINK_F_DIR) ? AT_REMOVEDIR : 0;
      return 0;
    case PROACTOR_OP_RENAME:
      if (!path(0, &slot.path0) || !path(1, &slot.path1)) return -EINVAL;
      q->fd = AT_FDCWD;
      q->addr = reinterpret_cast<uint64_t>(slot.path0.c_str());
      q->len = static_cast<uint32_t>(AT_FDCWD);
      q->off = reinterpret_cast<uint64_t>(slot.path1.c_str());
      return 0;
    case PROACTOR_OP_MKDIR:
      if (!path(0, &slot.path0)) return -EINVAL;
      q->fd = AT_FDCWD;
      q->addr = reinterpret_cast<uint64_t>(slot.path0.c_str());
      q->len = e.mode;
      return 0;
    case PROACTOR_OP_FTRUNCATE:
      if (e.offset < 0) return -EINVAL;
      q->fd = e.fd;
      q->off = static_cast<uint64_t>(e.offset);
      return 0;
    case PROACTOR_OP_TIMEOUT:
      slot.ts.tv_sec = static_cast<int64_t>(e.timeout_ns / 1000000000);
      slot.ts.tv_nsec = static_cast<long long>(e.timeout_ns % 1000000000);
      q->addr = reinterpret_cast<uint64_t>(&slot.ts);
      q->len = 1;
      q->off = 0;  // a pure timer, not a completion count; it ends with -ETIME, reported as 0
      return 0;
    case PROACTOR_OP_SOCKET: {
      const int family = PlatformFamily(e.op_flags);
      if (family < 0) return -EAFNOSUPPORT;
      int type = 0;
      if (e.mode == PROACTOR_SOCK_STREAM) type = SOCK_STREAM;
      else if (e.mode == PROACTOR_SOCK_DGRAM) type = SOCK_DGRAM;
      else return -EINVAL;
      // fd = domain, off = type | flags, len = protocol. Blocking, as io_uring wants them: it
      // polls internally instead of failing with EAGAIN.
      q->fd = family;
      q->off = static_cast<uint64_t>(type | SOCK_CLOEXEC);
      q->len = 0;
      return 0;
    }
    case PROACTOR_OP_BIND:
    case PROACTOR_OP_CONNECT: {
      SocketAddress* a = sockaddr();
      if (a == nullptr) return -ENOMEM;
      int r = DecodeAddressRecord(ring_js_.AddressRecord(e.slot), a);
      if (r < 0) return r;
      q->fd = e.fd;
      q->addr = reinterpret_cast<uint64_t>(&a->storage);
      q->off = a->length;  // addr2: the address length
      return 0;
    }
    case PROACTOR_OP_LISTEN:
      if (e.len > 0x7fffffffu) return -EINVAL;
      q->fd = e.fd;
      q->len = e.len;
      return 0;
    case PROACTOR_OP_ACCEPT: {
      SocketAddress* a = sockaddr();
      if (a == nullptr) return -ENOMEM;
      std::memset(&a->storage, 0, sizeof a->storage);
      a->length = sizeof a->storage;
      q->fd = e.fd;
      q->addr = reinterpret_cast<uint64_t>(&a->storage);
      q->off = reinterpret_cast<uint64_t>(&a->length);  // addr2: the in/out length
      q->accept_flags = SOCK_CLOEXEC;
      return 0;
    }
    case PROACTOR_OP_RECV:
    case PROACTOR_OP_SEND: {
      ByteSpan span;
      if (!span_of(&span)) return -EINVAL;
      q->fd = e.fd;
      q->addr = reinterpret_cast<uint64_t>(span.data + e.buf_offset);
      q->len = e.len;
      // A peer that went away gives EPIPE, never SIGPIPE.
      q->msg_flags = e.opcode == PROACTOR_OP_SEND ? MSG_NOSIGNAL : 0;
      slot.expected = e.len;
      if (e.opcode == PROACTOR_OP_SEND && (e.op_flags & PROACTOR_SEND_F_ZEROCOPY) != 0 && ring_ != nullptr &&
          ring_->ring().Supports(PROACTOR_IORING_OP_SEND_ZC)) {
        // The kernel posts the result, then (flag NOTIF) that it let go of the buffer: the
        // operation completes at the second, so the queue keeps the buffer until then.
        q->opcode = PROACTOR_IORING_OP_SEND_ZC;
        slot.zero_copy = true;
        zero_copy_sends_++;
      }
      return 0;
    }
    case PROACTOR_OP_POLL:
      q->fd = e.fd;
      q->poll32_events = NativePollEvents(e.op_flags);
      return 0;
    case PROACTOR_OP_ACCEPT_MULTI:
      // No address buffer: one would be overwritten by every connection before it is read.
      // DeliverReady asks getpeername() for each one's peer.
      q->fd = e.fd;
      q->accept_flags = SOCK_CLOEXEC;
      q->ioprio = PROACTOR_IORING_ACCEPT_MULTISHOT;
      return 0;
    case PROACTOR_OP_RECV_MULTI:
      if (buffer_ring_.entries == nullptr) return -EINVAL;  // aio-core provides buffers first
      q->fd = e.fd;
      q->ioprio = PROACTOR_IORING_RECV_MULTISHOT;
      q->flags = PROACTOR_IOSQE_BUFFER_SELECT;
      q->buf_group = id_;
      return 0;
    case PROACTOR_OP_RECVFROM:
    case PROACTOR_OP_SENDTO: {
      // One msghdr, iovec and sockaddr per slot, owned by it until the final completion: the
      // kernel reads them (and recvmsg writes the name and its length) while the op runs.
      ByteSpan span;
      if (!span_of(&span)) return -EINVAL;
      SocketAddress* a = sockaddr();
      if (a == nullptr) return -ENOMEM;
      if (!slot.message) {
        slot.message.reset(new (std::nothrow) Message{});
        if (!slot.message) return -ENOMEM;
      }
      if (e.opcode == PROACTOR_OP_SENDTO) {
        int r = DecodeAddressRecord(ring_js_.AddressRecord(e.slot), a);
        if (r < 0) return r;
      } else {
        std::memset(&a->storage, 0, sizeof a->storage);
        a->length = sizeof a->storage;
      }
      Message& m = *slot.message;
      m.iov.iov_base = span.data + e.buf_offset;
      m.iov.iov_len = e.len;
      std::memset(&m.hdr, 0, sizeof m.hdr);
      m.hdr.msg_name = &a->storage;
      m.hdr.msg_namelen = a->length;
      m.hdr.msg_iov = &m.iov;
      m.hdr.msg_iovlen = 1;
      q->fd = e.fd;
      q->addr = reinterpret_cast<uint64_t>(&m.hdr);
      q->len = 1;
      // A peer that went away gives EPIPE, never SIGPIPE.
      q->msg_flags = e.opcode == PROACTOR_OP_SENDTO ? MSG_NOSIGNAL : 0;
      slot.expected = e.len;
      return 0;
    }
    case PROACTOR_OP_SHUTDOWN:
      q->fd = e.fd;
      switch (e.op_flags) {
        case PROACTOR_SHUT_RD: q->len = SHUT_RD; break;
        case PROACTOR_SHUT_WR: q->len = SHUT_WR; break;
        case PROACTOR_SHUT_RDWR: q->len = SHUT_RDWR; break;
        default: return -EINVAL;
      }
      return 0;
    case PROACTOR_OP_SETSOCKOPT: {
      int level = 0;
      int name = 0;
      if (!SocketOption(e.op_flags, &level, &name)) return -ENOPROTOOPT;
      // Run at launch: fd, addr = level, off = option name, len = value.
      q->fd = e.fd;
      q->addr = static_cast<uint64_t>(level);
      q->off = static_cast<uint64_t>(name);
      q->len = e.len != 0 ? 1 : 0;
      return 0;
    }
    case PROACTOR_OP_GETSOCKNAME: {
      SocketAddress* a = sockaddr();
      if (a == nullptr) return -ENOMEM;
      q->fd = e.fd;
      return 0;
    }
    default:
      return -EINVAL;
  }
}

void UringEngine::Launch(uint16_t index) {
  Slot& slot = slots_[index];
  // Closing a registered descriptor through the queue also drops it from the registration,
  // so that the kernel's reference goes with the descriptor (pool or ring alike).
  if (slot.opcode == PROACTOR_OP_CLOSE && !files_.empty()) ForgetFile(slot.prepared.fd);
  // Operations still waiting on the descriptor end first (ECANCELED): a kernel request holds
  // its own reference to the file and would otherwise wait on after the close.
  if (slot.opcode == PROACTOR_OP_CLOSE && ring_ != nullptr && HasWaiting(slot.prepared.fd)) {
    ring_->QueueCancelFd(slot.prepared.fd);
    // The kernel finds them through the descriptor: it must see the cancel before a close on
    // the blocking pool can run.
    if (NeedsPool(slot.opcode)) ring_->Flush();
  }
  // (Results posted here are finished by whoever launched: Submit wakes the ring for them,
  // Finish runs inside EnvRing::Reap, which processes local results after routing.)
  if (RunsAtLaunch(slot.opcode)) {
    PostLocal(index, RunAtLaunch(index));
    return;
  }
  if (IsSocketOp(slot.opcode) && !ring_->ring().Supports(KernelOpcode(slot.opcode))) {
    // accept, connect, recv and send exist since Linux 5.6, the oldest kernel this runs on.
    PostLocal(index, -ENOSYS);
    return;
  }
  if (NeedsPool(slot.opcode)) {
    slot.where = Slot::Where::Pool;
    const io_uring_sqe copy = slot.prepared;
    if (!ring_->pool().Post(copy.user_data, [copy]() -> int64_t { return RunBlocking(copy); })) {
      PostLocal(index, -EAGAIN);
    }
    return;
  }
  slot.where = Slot::Where::Ring;
  if (IsWaitingOp(slot.opcode)) {
    // A descriptor at or above RLIMIT_NOFILE cannot be open (the operation fails with EBADF):
    // not counted, so a stray number never sizes the table. (The limit is read again, rarely,
    // in case the process raised it.)
    const int fd = slot.prepared.fd;
    if (fd >= 0 && static_cast<long>(fd) >= open_max_) open_max_ = std::max(open_max_, sysconf(_SC_OPEN_MAX));
    if (fd >= 0 && static_cast<long>(fd) < open_max_) {
      if (static_cast<size_t>(fd) >= waiting_fds_.size()) waiting_fds_.resize(static_cast<size_t>(fd) + 1 + fd / 2);
      if (waiting_fds_[fd]++ == 0) waiting_descriptors_++;
      slot.waiting_fd = fd;
    }
  }
  if (ring_->credentials_error() < 0) {
    // SQPOLL: the new credentials could not be registered; running with the old ones is not
    // an option.
    PostLocal(index, ring_->credentials_error());
    ring_->Wake();
    return;
  }
  if (buffers_.empty() && files_.empty()) {
    ring_->Push(slot.prepared);
    return;
  }
  io_uring_sqe sqe = slot.prepared;
  UseRegistered(slot.opcode, &sqe);
  ring_->Push(sqe);
}

int32_t UringEngine::RunAtLaunch(uint16_t index) {
  Slot& slot = slots_[index];
  const io_uring_sqe& q = slot.prepared;
  int r = -1;
  switch (slot.opcode) {
    case PROACTOR_OP_SOCKET:
      r = socket(q.fd, static_cast<int>(q.off), static_cast<int>(q.len));
      break;
    case PROACTOR_OP_BIND:
      r = bind(q.fd, reinterpret_cast<const struct sockaddr*>(q.addr), static_cast<socklen_t>(q.off));
      break;
    case PROACTOR_OP_LISTEN:
      r = listen(q.fd, static_cast<int>(q.len));
      break;
    case PROACTOR_OP_SHUTDOWN:
      r = shutdown(q.fd, static_cast<int>(q.len));
      break;
    case PROACTOR_OP_SETSOCKOPT: {
      const int value = static_cast<int>(q.len);
      r = setsockopt(q.fd, static_cast<int>(q.addr), static_cast<int>(q.off), &value, sizeof value);
      break;
    }
    case PROACTOR_OP_GETSOCKNAME: {
      SocketAddress* a = slot.sockaddr.get();
      if (a == nullptr) return -ENOMEM;
      std::memset(&a->storage, 0, sizeof a->storage);
      a->length = sizeof a->storage;
      r = getsockname(q.fd, reinterpret_cast<struct sockaddr*>(&a->storage), &a->length);
      if (r == 0) EncodeAddressRecord(a->storage, a->length, ring_js_.AddressRecord(index));
      break;
    }
    default:
      return -EINVAL;
  }
  return r < 0 ? -errno : r;
}

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
  if (ring_ == nullptr) return;
  ring_->ReleaseRange(RsrcKind::Files, index, 1);
  // Clear it now (after the SQEs before this close were consumed), not after the close ran.
  ring_->SettleReleases();
}

void UringEngine::ReleaseBuffers() {
  if (ring_ != nullptr && buffer_count_ > 0) ring_->ReleaseRange(RsrcKind::Buffers, buffer_base_, buffer_count_);
  buffers_.clear();
  buffers_max_end_.clear();
  buffer_count_ = 0;
}

void UringEngine::ReleaseFiles() {
  if (ring_ != nullptr && !files_.empty()) {
    // The indexes still registered (a close through the queue released its own), in runs.
    std::vector<uint32_t> live;
    live.reserve(files_.size());
    for (const auto& f : files_) live.push_back(f.second);
    std::sort(live.begin(), live.end());
    size_t i = 0;
    while (i < live.size()) {
      size_t j = i + 1;
      while (j < live.size() && live[j] == live[j - 1] + 1) j++;
      ring_->ReleaseRange(RsrcKind::Files, live[i], static_cast<uint32_t>(j - i));
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
  if (closed_ || ring_ == nullptr) throw CodedError(env, "ERR_PROACTOR_QUEUE_DESTROYED", "the io_uring engine is closed");
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
  int r = ring_->RegisterRange(RsrcKind::Buffers, iov.data(), n, &base);
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
  if (closed_ || ring_ == nullptr) throw CodedError(env, "ERR_PROACTOR_QUEUE_DESTROYED", "the io_uring engine is closed");
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
  int r = ring_->RegisterRange(RsrcKind::Files, fds.data(), n, &base);
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
  if (closed_ || ring_ == nullptr) throw CodedError(env, "ERR_PROACTOR_QUEUE_DESTROYED", "the io_uring engine is closed");
  if (buffer_ring_.entries != nullptr) throw CodedError(env, "ERR_INVALID_STATE", "buffers were already provided");
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) {
    throw Napi::TypeError::New(env, "provideBuffers(memory: Uint8Array, size: number, count: number)");
  }
  ByteSpan span;
  if (!GetByteSpan(env, info[0], &span)) throw Napi::TypeError::New(env, "memory must be an ArrayBufferView");
  const double size = info[1].As<Napi::Number>().DoubleValue();
  const double count = info[2].As<Napi::Number>().DoubleValue();
  if (!(size >= 1 && size <= (1u << 30)) || size != static_cast<double>(static_cast<uint32_t>(size))) {
    throw Napi::RangeError::New(env, "size must be an integer from 1 to 2^30");
  }
  const uint32_t n = static_cast<uint32_t>(count);
  if (!(count >= 1 && count <= 32768) || count != static_cast<double>(n) || (n & (n - 1)) != 0) {
    throw Napi::RangeError::New(env, "count must be a power of two up to 32768");
  }
  const uint32_t bytes = static_cast<uint32_t>(size);
  if (span.data == nullptr || span.length / bytes < n) throw Napi::RangeError::New(env, "memory is smaller than size * count");
  const long page = sysconf(_SC_PAGESIZE);
  const size_t ring_bytes = ((sizeof(PbufEntry) * n + static_cast<size_t>(page) - 1) / page) * page;
  void* mem = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw SystemError(env, -errno, "mmap");
  PbufRegister reg;
  std::memset(&reg, 0, sizeof reg);
  reg.ring_addr = reinterpret_cast<uint64_t>(mem);
  reg.ring_entries = n;
  reg.bgid = id_;
  int r = ring_->ring().Register(PROACTOR_IORING_REGISTER_PBUF_RING, &reg, 1);
  if (r < 0) {
    munmap(mem, ring_bytes);
    throw SystemError(env, r, "io_uring_register");
  }
  buffer_ring_.entries = static_cast<PbufEntry*>(mem);
  buffer_ring_.mapped = ring_bytes;
  buffer_ring_.base = span.data;
  buffer_ring_.size = bytes;
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
  if (ring_alive && ring_ != nullptr) {
    PbufRegister reg;
    std::memset(&reg, 0, sizeof reg);
    reg.bgid = id_;
    (void)ring_->ring().Register(PROACTOR_IORING_UNREGISTER_PBUF_RING, &reg, 1);
  }
  munmap(b.entries, b.mapped);
  b.entries = nullptr;
  b.mapped = 0;
  b.base = nullptr;
  b.count = 0;
  b.size = 0;
  b.memory.Reset();
}

void UringEngine::QueueCancel(uint32_t target) {
  if (target >= slots_.size()) return;
  Slot& slot = slots_[target];
  if (!slot.busy) return;
  // A chain member that has not started ends now, with the members after it (those before it
  // run on). What is in the kernel is cancelled there; a blocking-pool call runs to its end.
  if (slot.where == Slot::Where::Sequenced) {
    for (Slot& head : slots_) {
      if (head.chain == nullptr) continue;
      auto& rest = *head.chain;
      auto it = std::find(rest.begin(), rest.end(), static_cast<uint16_t>(target));
      if (it == rest.end()) continue;
      std::vector<uint16_t> cancelled(it, rest.end());
      rest.erase(it, rest.end());
      for (uint16_t later : cancelled) PostLocal(later, -ECANCELED);
      break;
    }
    ring_->Wake();
    return;
  }
  if (slot.where != Slot::Where::Ring) return;
  ring_->QueueCancel(MakeUserData(slot.generation, id_, static_cast<uint16_t>(target)),
                     slot.opcode == PROACTOR_OP_TIMEOUT);
}

void UringEngine::PostLocal(uint16_t slot, int32_t result) {
  slots_[slot].where = Slot::Where::Local;
  local_.push_back({slot, 0, result, 0});
}

// ---- completion ----------------------------------------------------------------------------

void UringEngine::OnCompletion(uint16_t index, uint32_t generation, int32_t result, uint32_t cqe_flags) {
  const bool has_buffer = (cqe_flags & PROACTOR_IORING_CQE_F_BUFFER) != 0;
  const uint32_t buffer = cqe_flags >> PROACTOR_IORING_CQE_BUFFER_SHIFT;
  if (has_buffer && buffer_ring_.in_kernel > 0) buffer_ring_.in_kernel--;
  if (index >= slots_.size()) return;
  Slot& slot = slots_[index];
  if (!slot.busy || slot.generation != generation ||
      (slot.where != Slot::Where::Ring && slot.where != Slot::Where::Pool)) {
    // Nobody wants the data: the buffer goes straight back to the kernel.
    if (has_buffer) {
      RecycleBuffer(buffer);
      PublishBuffers();
    }
    return;
  }
  const bool more = (cqe_flags & PROACTOR_IORING_CQE_F_MORE) != 0;
  switch (slot.opcode) {
    case PROACTOR_OP_RECV_MULTI:
      if (has_buffer) {
        if (result > 0) {
          PostItem(index, result, PROACTOR_CQE_F_MORE | PROACTOR_CQE_F_BUFFER, buffer);
        } else {
          RecycleBuffer(buffer);
          PublishBuffers();
        }
      }
      if (more) return;
      // Ended with data (its item is posted above) or by the kernel for its own reasons:
      // UV_ENOBUFS tells the queue to start receiving again.
      if (result > 0) result = -ENOBUFS;
      Finish(index, result);
      return;
    case PROACTOR_OP_ACCEPT_MULTI:
      if (result >= 0) PostItem(index, result, PROACTOR_CQE_F_MORE, 0);
      if (more) return;
      Finish(index, result >= 0 ? -ENOBUFS : result);
      return;
    default:
      break;
  }
  if (slot.zero_copy) {
    if ((cqe_flags & PROACTOR_IORING_CQE_F_NOTIF) != 0) {
      Finish(index, slot.zero_copy_result);
      return;
    }
    if (more) {
      // The notification follows once the kernel let go of the buffer.
      slot.zero_copy_result = result;
      return;
    }
  }
  Finish(index, result);
}

void UringEngine::PostItem(uint16_t index, int32_t result, uint16_t flags, uint32_t buffer) {
  multishot_items_++;
  ready_.push_back({index, flags, result, buffer});
}

void UringEngine::ProcessLocal() {
  // Finish() may post more (a failed chain head cancels its members): loop until empty.
  while (!local_.empty()) {
    std::vector<Result> batch;
    batch.swap(local_);
    for (const Result& r : batch) {
      if (slots_[r.slot].busy) Finish(r.slot, r.result);
    }
  }
}

void UringEngine::Finish(uint16_t index, int32_t result) {
  Slot& slot = slots_[index];
  if (slot.opcode == PROACTOR_OP_TIMEOUT && result == -ETIME) result = 0;
  if (slot.opcode == PROACTOR_OP_POLL && result >= 0) {
    // The kernel also reports events nobody asked for (it always watches for RDHUP): only what
    // was asked, plus ERR and HUP, as poll(2) does.
    const uint32_t wanted = slot.prepared.poll32_events | POLLERR | POLLHUP;
    result = static_cast<int32_t>(PortablePollEvents(static_cast<uint32_t>(result) & wanted));
  }
  if (slot.waiting_fd >= 0) {
    // (Detach() may have cleared the counts of an environment going away.)
    const size_t fd = static_cast<size_t>(slot.waiting_fd);
    if (fd < waiting_fds_.size() && waiting_fds_[fd] > 0 && --waiting_fds_[fd] == 0) waiting_descriptors_--;
    slot.waiting_fd = -1;
  }
  if ((slot.opcode == PROACTOR_OP_STAT || slot.opcode == PROACTOR_OP_FSTAT) && result >= 0 && slot.stx) {
    FillStatRecord(ring_js_.StatRecord(index), *slot.stx);
  }
  if (slot.opcode == PROACTOR_OP_ACCEPT && result >= 0 && slot.sockaddr) {
    EncodeAddressRecord(slot.sockaddr->storage, slot.sockaddr->length, ring_js_.AddressRecord(index));
  }
  if (slot.opcode == PROACTOR_OP_RECVFROM && result >= 0 && slot.sockaddr && slot.message) {
    // recvmsg wrote the sender's length into the msghdr.
    EncodeAddressRecord(slot.sockaddr->storage, slot.message->hdr.msg_namelen, ring_js_.AddressRecord(index));
  }
  slot.busy = false;
  slot.path0.clear();
  slot.path1.clear();
  // A chain goes on with its next member, or ends here.
  std::shared_ptr<std::deque<uint16_t>> rest = std::move(slot.chain);
  slot.chain.reset();
  if (rest != nullptr && !rest->empty()) {
    bool failed = result < 0 || (IsTransfer(slot.opcode) && static_cast<uint64_t>(result) < slot.expected);
    if (failed || ring_ == nullptr) {
      for (uint16_t later : *rest) PostLocal(later, -ECANCELED);
      rest->clear();
    } else {
      uint16_t next = rest->front();
      rest->pop_front();
      slots_[next].chain = rest;
      Launch(next);
      if (slots_[next].where == Slot::Where::Ring) ring_->Flush();
    }
  }
  ready_.push_back({index, 0, result, 0});
}

uint32_t UringEngine::DeliverReady(Napi::Env env, napi_value* exception, bool* js_gone) {
  uint32_t total = 0;
  proactor_cqe* out = ring_js_.completions();
  const uint32_t capacity = ring_js_.completion_capacity();
  std::vector<uint32_t> lent;  /* provided buffers whose data this batch hands over */
  while (!ready_.empty() && !closed_) {
    uint32_t n = 0;
    uint32_t finals = 0;
    if (++delivery_batch_ == 0) delivery_batch_ = 1;
    lent.clear();
    while (n < capacity && !ready_.empty()) {
      const Result& r = ready_.front();
      if ((r.flags & PROACTOR_CQE_F_MORE) == 0) {
        finals++;
      } else if (slots_[r.slot].opcode == PROACTOR_OP_ACCEPT_MULTI) {
        // The slot has one address record: one connection per slot per batch.
        Slot& slot = slots_[r.slot];
        if (slot.delivered_batch == delivery_batch_) break;
        slot.delivered_batch = delivery_batch_;
        SocketAddress peer;
        std::memset(&peer.storage, 0, sizeof peer.storage);
        peer.length = sizeof peer.storage;
        if (getpeername(r.result, reinterpret_cast<struct sockaddr*>(&peer.storage), &peer.length) < 0) {
          peer.length = 0;  // reset already: no address (family PROACTOR_AF_NONE)
        }
        EncodeAddressRecord(peer.storage, peer.length, ring_js_.AddressRecord(r.slot));
      }
      if ((r.flags & PROACTOR_CQE_F_BUFFER) != 0) lent.push_back(r.buffer);
      out[n].slot = r.slot;
      out[n].flags = r.flags;
      out[n].result = r.result;
      out[n].buffer = r.buffer;
      ready_.pop_front();
      n++;
    }
    in_flight_ -= finals;
    total += n;
    in_complete_ = true;
    napi_status status = ring_js_.Complete(env, n, exception);
    in_complete_ = false;
    // The queue copied the data out during complete(): the buffers go back to the kernel.
    if (!lent.empty() && !closed_) {
      for (uint32_t id : lent) RecycleBuffer(id);
      PublishBuffers();
    }
    if (status == napi_pending_exception && *exception != nullptr) break;
    if (status != napi_ok) {
      *js_gone = true;
      break;
    }
  }
  if (!closed_) UpdateRef();
  return total;
}

void UringEngine::CancelInRing() {
  for (uint32_t i = 0; i < slots_.size(); i++) {
    if (slots_[i].busy && slots_[i].where == Slot::Where::Ring) QueueCancel(i);
  }
}

bool UringEngine::HasRingOps() const {
  for (const Slot& slot : slots_) {
    if (slot.busy && slot.where == Slot::Where::Ring) return true;
  }
  return false;
}

void UringEngine::UpdateRef() {
  bool busy = in_flight_ > 0;
  if (ring_ != nullptr) ring_->SetWantsRef(id_, busy && user_ref_);
  if (busy && !self_ref_) {
    Napi::ObjectWrap<UringEngine>::Ref();
    self_ref_ = true;
  } else if (!busy && self_ref_) {
    Napi::ObjectWrap<UringEngine>::Unref();
    self_ref_ = false;
  }
}

// ---- waitSync, ref, unref, close, info -----------------------------------------------------

Napi::Value UringEngine::WaitSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_ || ring_ == nullptr) throw CodedError(env, "ERR_PROACTOR_QUEUE_DESTROYED", "the io_uring engine is closed");
  if (in_complete_) {
    // Its completion buffer is being read by the callback that called us.
    throw CodedError(env, "ERR_INVALID_STATE", "waitSync() cannot be called from a completion of the same queue");
  }
  uint32_t min = info[0].As<Napi::Number>().Uint32Value();
  double timeout_ms = info.Length() > 1 ? info[1].As<Napi::Number>().DoubleValue() : -1;
  using Clock = std::chrono::steady_clock;
  const bool bounded = timeout_ms >= 0;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::microseconds(static_cast<int64_t>(bounded ? timeout_ms * 1000 : 0));
  napi_value exception = nullptr;
  EnvRing* ring = ring_;
  uint32_t delivered = ring->Dispatch(env, this, &exception);
  while (exception == nullptr && delivered < min && in_flight_ > 0 && !closed_ && !ring->js_gone()) {
    int64_t remaining_ns = -1;
    if (bounded) {
      remaining_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count();
      if (remaining_ns <= 0) break;
    }
    int r = ring->Wait(remaining_ns);
    if (r < 0 && r != -ETIME) throw SystemError(env, r, "io_uring_enter");
    delivered += ring->Dispatch(env, this, &exception);
    if (r == -ETIME) break;
  }
  if (exception != nullptr) throw Napi::Error(env, exception);
  return Napi::Number::New(env, delivered);
}

Napi::Value UringEngine::JsRef(const Napi::CallbackInfo& info) {
  user_ref_ = true;
  if (!closed_) UpdateRef();
  return info.Env().Undefined();
}

Napi::Value UringEngine::JsUnref(const Napi::CallbackInfo& info) {
  user_ref_ = false;
  if (!closed_) UpdateRef();
  return info.Env().Undefined();
}

Napi::Value UringEngine::JsClose(const Napi::CallbackInfo& info) {
  // aio-core calls close() once every operation completed (possibly from inside complete():
  // DeliverReady stops at closed_). The ring stays: it belongs to the environment.
  if (!closed_) {
    closed_ = true;
    Unregister(false);
  }
  return info.Env().Undefined();
}

/* Diagnostics for tests and for @proactor/aio's explanations. */
Napi::Value UringEngine::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (ring_ != nullptr) {
    out.Set("sqEntries", ring_->ring().sq_entries());
    out.Set("cqEntries", ring_->ring().cq_entries());
    out.Set("features", ring_->ring().features());
    out.Set("ringFd", ring_->ring().fd());
    out.Set("overflowFlushes", static_cast<double>(ring_->overflow_flushes()));
    out.Set("wakeups", static_cast<double>(ring_->wakeups()));
    out.Set("sqpoll", ring_->ring().sqpoll());
    out.Set("personality", ring_->personality());
    out.Set("enterCalls", static_cast<double>(ring_->ring().enter_calls()));
  }
  out.Set("fixedBufferOps", static_cast<double>(fixed_buffer_ops_));
  out.Set("fixedFileOps", static_cast<double>(fixed_file_ops_));
  out.Set("registeredBuffers", buffer_count_);
  out.Set("bufferIndexBase", buffer_base_);
  out.Set("registeredFiles", static_cast<uint32_t>(files_.size()));
  out.Set("fileIndexBase", file_base_);
  out.Set("inFlight", in_flight_);
  out.Set("multishotItems", static_cast<double>(multishot_items_));
  out.Set("zeroCopySends", static_cast<double>(zero_copy_sends_));
  out.Set("providedBuffers", buffer_ring_.count);
  out.Set("providedBufferSize", buffer_ring_.size);
  out.Set("providedBuffersInKernel", buffer_ring_.in_kernel);
  out.Set("readyToDeliver", static_cast<uint32_t>(ready_.size()));
  out.Set("waitingDescriptors", waiting_descriptors_);
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
