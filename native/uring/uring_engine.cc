#include "uring_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "../common/resource_views.h"
#include "../common/stat_area.h"
#include "../common/system_error.h"
#include "uring_blocking.h"

namespace proactor {

namespace {

constexpr unsigned kNoKernelOpcode = 0x10000;

bool IsTransfer(uint8_t opcode) {
  return opcode == PROACTOR_OP_READ || opcode == PROACTOR_OP_WRITE || opcode == PROACTOR_OP_READV ||
         opcode == PROACTOR_OP_WRITEV;
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
                     });
}

/* new UringEngine(ring, options?: { sqEntries?, cqEntries?, disableOps?: number[] }) */
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
  Napi::Value disabled = options.Get("disableOps");
  if (disabled.IsArray()) {
    Napi::Array list = disabled.As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) blocking_ops_.push_back(list.Get(i).As<Napi::Number>().Uint32Value());
  }

  slots_.resize(ring_js_.entries());
  ring_ = EnvRing::Get(env, config);
  id_ = ring_->Register(env, this);
}

UringEngine::~UringEngine() { Unregister(true); }

void UringEngine::Unregister(bool in_finalizer) {
  if (ring_ != nullptr) ring_->Unregister(id_);
  ring_ = nullptr;
  if (self_ref_ && !in_finalizer) Napi::ObjectWrap<UringEngine>::Unref();
  self_ref_ = false;
}

void UringEngine::Detach() {
  // The environment is going away: its ring drained what it could; nothing is delivered now.
  ring_ = nullptr;
  closed_ = true;
  if (self_ref_) Napi::ObjectWrap<UringEngine>::Unref();
  self_ref_ = false;
}

// ---- submission ----------------------------------------------------------------------------

Napi::Value UringEngine::Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_ || ring_ == nullptr) throw Napi::Error::New(env, "the io_uring engine is closed");
  uint32_t count = info[0].As<Napi::Number>().Uint32Value();
  if (count > ring_js_.submission_capacity()) throw Napi::RangeError::New(env, "submit count exceeds the submission buffer");
  napi_value resources = ring_js_.Resources();
  const uint32_t entries = ring_js_.entries();

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
  unsigned op = KernelOpcode(proactor_opcode);
  if (op == kNoKernelOpcode) return false;
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
    default: return kNoKernelOpcode;
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
  slot.expected = 0;
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
    default:
      return -EINVAL;
  }
}

void UringEngine::Launch(uint16_t index) {
  Slot& slot = slots_[index];
  if (NeedsPool(slot.opcode)) {
    slot.where = Slot::Where::Pool;
    const io_uring_sqe copy = slot.prepared;
    if (!ring_->pool().Post(copy.user_data, [copy]() -> int64_t { return RunBlocking(copy); })) {
      PostLocal(index, -EAGAIN);
    }
    return;
  }
  slot.where = Slot::Where::Ring;
  ring_->Push(slot.prepared);
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
  local_.push_back({slot, result});
}

// ---- completion ----------------------------------------------------------------------------

void UringEngine::OnCompletion(uint16_t index, uint32_t generation, int32_t result) {
  if (index >= slots_.size()) return;
  Slot& slot = slots_[index];
  if (!slot.busy || slot.generation != generation) return;
  if (slot.where != Slot::Where::Ring && slot.where != Slot::Where::Pool) return;
  Finish(index, result);
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
  if ((slot.opcode == PROACTOR_OP_STAT || slot.opcode == PROACTOR_OP_FSTAT) && result >= 0 && slot.stx) {
    FillStatRecord(ring_js_.StatRecord(index), *slot.stx);
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
  ready_.push_back({index, result});
}

uint32_t UringEngine::DeliverReady(Napi::Env env, napi_value* exception, bool* js_gone) {
  uint32_t total = 0;
  proactor_cqe* out = ring_js_.completions();
  const uint32_t capacity = ring_js_.completion_capacity();
  while (!ready_.empty() && !closed_) {
    uint32_t n = 0;
    while (n < capacity && !ready_.empty()) {
      const Result& r = ready_.front();
      out[n].slot = r.slot;
      out[n].flags = 0;
      out[n].result = r.result;
      out[n].reserved = 0;
      ready_.pop_front();
      n++;
    }
    in_flight_ -= n;
    total += n;
    in_complete_ = true;
    napi_status status = ring_js_.Complete(env, n, exception);
    in_complete_ = false;
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
  if (closed_ || ring_ == nullptr) throw Napi::Error::New(env, "the io_uring engine is closed");
  if (in_complete_) {
    // Its completion buffer is being read by the callback that called us.
    throw Napi::Error::New(env, "waitSync() cannot be called from a completion of the same queue");
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
  }
  out.Set("inFlight", in_flight_);
  Napi::Array blocking = Napi::Array::New(env);
  uint32_t k = 0;
  for (uint8_t op = 0; op < PROACTOR_OP_CANCEL; op++) {
    if (NeedsPool(op)) blocking.Set(k++, Napi::Number::New(env, op));
  }
  out.Set("blockingOps", blocking);
  return out;
}

}  // namespace proactor
