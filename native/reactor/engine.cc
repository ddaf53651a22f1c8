#include "engine.h"

#include <uv.h>

#include <string>

#include "../common/fault_schedule.h"
#include "../common/readiness.h"
#include "../common/resource_views.h"
#include "../common/system_error.h"
#include "socket_calls.h"

namespace proactor {

namespace {

/* Items a multishot operation produces per readiness report at most. */
constexpr int kMultishotBurst = 16;

/* sendfile(2) calls per attempt at most (each moves what the socket takes), so that one large
 * file to a fast reader does not starve the others: the poller reports the socket again at once. */
constexpr int kSendfileBurst = 8;

/* The directions a socket operation waits in (kPoll* bits). */
uint32_t Directions(const Operation& op) {
  switch (op.opcode) {
    case PROACTOR_OP_CONNECT:
    case PROACTOR_OP_SEND:
    case PROACTOR_OP_SENDTO:
    case PROACTOR_OP_SENDFILE:
      return kPollWritable;
    case PROACTOR_OP_POLL: {
      const ReadinessFilters f = FiltersFor(op.op_flags);
      const uint32_t d = (f.read ? kPollReadable : 0) | (f.write ? kPollWritable : 0);
      // Nothing asked for: poll(2) still reports ERR and HUP, which show on the read side.
      return d == 0 ? kPollReadable : d;
    }
    default:
      return kPollReadable;
  }
}

}  // namespace

Napi::Function ReactorEngine::Define(Napi::Env env) {
  return DefineClass(env, "ReactorEngine",
                     {
                         InstanceMethod<&ReactorEngine::Submit>("submit"),
                         InstanceMethod<&ReactorEngine::WaitSync>("waitSync"),
                         InstanceMethod<&ReactorEngine::JsRef>("ref"),
                         InstanceMethod<&ReactorEngine::JsUnref>("unref"),
                         InstanceMethod<&ReactorEngine::JsClose>("close"),
                         InstanceMethod<&ReactorEngine::Info>("info"),
                         InstanceMethod<&ReactorEngine::ProvideBuffers>("provideBuffers"),
                     });
}

/* new ReactorEngine(ring, options?: { poller?: string, linuxAio?: boolean, linuxAioOff?: string }):
 * linuxAio turns Linux AIO on for direct I/O (off by default: aio-epoll asks for it, the kqueue
 * backend does not); linuxAioOff says why it is off, for info(). */
ReactorEngine::ReactorEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ReactorEngine>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "a RingContext is required");
  Napi::Object ring = info[0].As<Napi::Object>();
  std::string poller = "epoll";
  bool linux_aio = false;
  std::string linux_aio_off = "not asked for by this backend";
  if (info.Length() >= 2 && info[1].IsObject()) {
    Napi::Object options = info[1].As<Napi::Object>();
    Napi::Value name = options.Get("poller");
    if (name.IsString()) poller = name.As<Napi::String>().Utf8Value();
    linux_aio = options.Get("linuxAio").ToBoolean().Value();
    Napi::Value off = options.Get("linuxAioOff");
    if (off.IsString()) linux_aio_off = off.As<Napi::String>().Utf8Value();
  }
  ReactorHost* host = ReactorHost::Get(env, poller);
  core_.Attach(env, ring, host);
  host_ = host;
  state_.resize(core_.buffers().entries());
  aio_.Attach(host, core_.buffers().entries(), linux_aio, linux_aio_off);
  // The RingContext lives as long as this object (see queue_buffers.h).
  info.This().As<Napi::Object>().DefineProperty(Napi::PropertyDescriptor::Value("ring", ring, napi_default));
}

ReactorEngine::~ReactorEngine() { core_.Finalize(); }

// ---- EngineDriver ----------------------------------------------------------------------------

Start ReactorEngine::Launch(uint16_t slot, uint64_t tag, Operation& op, int32_t* result) {
  SlotState& state = state_[slot];
  state = SlotState{};
  switch (op.opcode) {
    case PROACTOR_OP_NOP:
      *result = 0;
      return Start::Done;
    case PROACTOR_OP_TIMEOUT:
      state.timer = true;
      state.deadline = host_->AddTimer(tag, op.timeout_ns);
      return Start::Submitted;
    case PROACTOR_OP_SOCKET:
      *result = static_cast<int32_t>(OpenNonblockingSocket(op));
      if (*result >= 0) host_->ForgetDescriptor(*result);
      return Start::Done;
    case PROACTOR_OP_BIND:
    case PROACTOR_OP_LISTEN:
    case PROACTOR_OP_SHUTDOWN:
    case PROACTOR_OP_SETSOCKOPT:
    case PROACTOR_OP_GETSOCKNAME:
      *result = static_cast<int32_t>(Call(op));
      return Start::Done;
    case PROACTOR_OP_CLOSE:
      if (op.fd >= 0) host_->ForgetDescriptor(op.fd);
      return Start::Blocking;
    case PROACTOR_OP_SENDFILE: {
      if (op.len == 0) {
        // Nothing to move: sendfile(2) still checks both descriptors, at once (io_uring's too).
        *result = static_cast<int32_t>(Call(op));
        return Start::Done;
      }
      const int64_t can_wait = SendfileCanWait(op.fd);
      if (can_wait < 0) {
        *result = static_cast<int32_t>(can_wait);
        return Start::Done;
      }
      // A regular file or a blocking descriptor: sendfile(2) blocks, on the pool.
      if (can_wait == 0) return Start::Blocking;
      // A non-blocking socket: as a send, below.
      [[fallthrough]];
    }
    case PROACTOR_OP_ACCEPT:
    case PROACTOR_OP_CONNECT:
    case PROACTOR_OP_RECV:
    case PROACTOR_OP_SEND:
    case PROACTOR_OP_RECVFROM:
    case PROACTOR_OP_SENDTO:
    case PROACTOR_OP_POLL: {
      const uint32_t directions = Directions(op);
      // (Fault injection: the schedule may make this send's socket stuck now; see SendStuck.)
      if (op.opcode == PROACTOR_OP_SEND || op.opcode == PROACTOR_OP_SENDTO) (void)host_->SendStuck(op.fd, true);
      // Behind operations already waiting in that direction: they go first, in order. Except a
      // connect, which moves no data and which the kernel answers at once (io_uring issues it
      // at once too): one on a connected socket with a send waiting fails with EISCONN now,
      // rather than after the send (found by the differential runner against aio-node).
      if (op.opcode == PROACTOR_OP_CONNECT || !host_->HasWaiters(op.fd, directions)) {
        const int64_t r = Attempt(state, op);
        if (r != UV_EAGAIN) {
          *result = static_cast<int32_t>(r);
          return Start::Done;
        }
      }
      const int r = host_->Park(op.fd, directions, tag);
      if (r < 0) {
        *result = r;
        return Start::Done;
      }
      state.parked = true;
      parks_++;
      return (directions & kPollReadable) ? Start::WaitReadable : Start::WaitWritable;
    }
    case PROACTOR_OP_ACCEPT_MULTI:
    case PROACTOR_OP_RECV_MULTI: {
      if (op.opcode == PROACTOR_OP_RECV_MULTI && !pool_.provided()) {
        *result = UV_ENOBUFS;  // no pool provided (aio-core provides one first)
        return Start::Done;
      }
      // Not tried now: items are posted from a readiness report (the poller reports a ready
      // descriptor at once), never from inside submit(), which nothing would deliver.
      const int r = host_->Park(op.fd, kPollReadable, tag);
      if (r < 0) {
        *result = r;
        return Start::Done;
      }
      state.parked = true;
      parks_++;
      return Start::WaitReadable;
    }
    case PROACTOR_OP_READ:
    case PROACTOR_OP_WRITE:
    case PROACTOR_OP_READV:
    case PROACTOR_OP_WRITEV:
    case PROACTOR_OP_FSYNC:
    case PROACTOR_OP_FDATASYNC:
      // Direct I/O through Linux AIO when it is on; the pool for the rest.
      return aio_.Launch(slot, tag, op) ? Start::Submitted : Start::Blocking;
    default:
      return Start::Blocking;
  }
}

int64_t ReactorEngine::Attempt(SlotState& state, const Operation& op) {
  if ((op.opcode == PROACTOR_OP_SEND || op.opcode == PROACTOR_OP_SENDTO) && host_->SendStuck(op.fd, false)) {
    return UV_EAGAIN;
  }
  if (op.opcode == PROACTOR_OP_SENDFILE) return ContinueSendfile(state, op);
  if (op.opcode == PROACTOR_OP_ACCEPT) {
    const int64_t fd = TrySocketCall(op);
    if (fd >= 0) host_->ForgetDescriptor(static_cast<int>(fd));
    return fd;
  }
  // A read or write that met a non-blocking descriptor on the pool (AwaitReady): the plain call,
  // which does not block on it.
  if (op.opcode == PROACTOR_OP_READ || op.opcode == PROACTOR_OP_WRITE || op.opcode == PROACTOR_OP_READV ||
      op.opcode == PROACTOR_OP_WRITEV) {
    return Call(op);
  }
  if (op.opcode != PROACTOR_OP_CONNECT) return TrySocketCall(op);
  if (state.connecting) return ConnectOutcome(op);
  const int64_t r = StartConnect(op);
  if (r == kConnectInProgress) {
    state.connecting = true;
    return UV_EAGAIN;
  }
  return r;
}

int64_t ReactorEngine::ContinueSendfile(SlotState& state, const Operation& op) {
  for (int calls = 0; calls < kSendfileBurst; calls++) {
    if (state.sent == op.len) return state.sent;
    const int64_t r = TrySendfile(op, state.sent);
    if (r > 0) {
      state.sent += static_cast<uint32_t>(r);
      sendfile_bytes_ += static_cast<uint64_t>(r);
      continue;  // a partial transfer: the socket is full, or the input ended; the next call says which
    }
    if (r == 0) return state.sent;  // the end of the input
    if (r == UV_EAGAIN) return r;   // the socket is full: wait for writability
    // The output failed: the bytes that went out now, the error with the next call.
    return state.sent > 0 ? state.sent : r;
  }
  if (state.sent == op.len) return state.sent;
  return UV_EAGAIN;  // more to send: the poller reports the writable socket again at once
}

int64_t ReactorEngine::Retry(uint64_t tag, int32_t* consumed_error) {
  const Operation* op = core_.Active(tag);
  if (op == nullptr) return UV_ECANCELED;
  retries_++;
  // A consumed socket error goes to the first call that would have met it: not a poll (it
  // reports readiness), and not EPIPE to a receive (Linux sets it on a reset after the peer's
  // FIN, and a receive then ends the stream with 0; the next send meets EPIPE anyway).
  const bool receive = op->opcode == PROACTOR_OP_RECV || op->opcode == PROACTOR_OP_RECVFROM ||
                       op->opcode == PROACTOR_OP_RECV_MULTI || op->opcode == PROACTOR_OP_READ ||
                       op->opcode == PROACTOR_OP_READV;
  if (*consumed_error < 0 && op->opcode == PROACTOR_OP_SENDFILE && state_[TagSlot(tag)].sent > 0) {
    // Part of the file went out: that count now; the error stays for the next waiting call.
    return state_[TagSlot(tag)].sent;
  }
  if (*consumed_error < 0 && op->opcode != PROACTOR_OP_POLL && !(receive && *consumed_error == UV_EPIPE)) {
    const int32_t error = *consumed_error;
    *consumed_error = 0;
    return error;
  }
  // (Fault injection: the report was a false alarm, and the call would block. The operation
  // waits again: a report is a hint, poller.h.)
  if (InjectFault(FaultSite::spurious_readiness)) return UV_EAGAIN;
  if (HasTrait(op->opcode, kMultishot)) return RunMultishot(TagSlot(tag), *op);
  const int64_t r = Attempt(state_[TagSlot(tag)], *op);
  if (r == UV_EAGAIN && (op->opcode == PROACTOR_OP_RECV || op->opcode == PROACTOR_OP_RECVFROM)) {
    return ReceiveAfterShutdown(*op);
  }
  return r;
}

int64_t ReactorEngine::RunMultishot(uint16_t slot, const Operation& op) {
  for (int items = 0; items < kMultishotBurst; items++) {
    if (op.opcode == PROACTOR_OP_ACCEPT_MULTI) {
      const int64_t fd = TrySocketCall(op);
      if (fd < 0) return fd;  // UV_EAGAIN: parked on; an error ends it
      host_->ForgetDescriptor(static_cast<int>(fd));
      core_.PostItem(slot, static_cast<int32_t>(fd), PROACTOR_CQE_F_MORE, 0);
      continue;
    }
    uint32_t id = 0;
    if (!pool_.Take(&id)) return UV_ENOBUFS;
    Operation recv = op;
    recv.opcode = PROACTOR_OP_RECV;
    recv.data = pool_.data(id);
    recv.len = pool_.size();
    int64_t n = TrySocketCall(recv);
    if (n == UV_EAGAIN && items == 0) n = ReceiveAfterShutdown(recv);
    if (n <= 0) {
      pool_.Give(id);  // end of stream (0), an error, or UV_EAGAIN
      return n;
    }
    core_.PostItem(slot, static_cast<int32_t>(n), PROACTOR_CQE_F_MORE | PROACTOR_CQE_F_BUFFER, id);
  }
  return UV_EAGAIN;  // more may be there: the poller reports it again
}

void ReactorEngine::BuffersDelivered(const std::vector<uint32_t>& ids) {
  for (uint32_t id : ids) pool_.Give(id);
}

/* provideBuffers(memory: Uint8Array, size: number, count: number): the receive pool of
 * PROACTOR_OP_RECV_MULTI, once per engine. */
Napi::Value ReactorEngine::ProvideBuffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (core_.closed() || host_ == nullptr) throw CodedError(env, "ERR_PROACTOR_QUEUE_DESTROYED", "the reactor engine is closed");
  pool_.Provide(info);
  return env.Undefined();
}

void ReactorEngine::Cancel(uint16_t slot, uint64_t tag, const Operation& op) {
  if (host_ == nullptr || aio_.Cancel(slot, tag)) return;
  SlotState& state = state_[slot];
  if (state.timer) {
    host_->CancelTimer(state.deadline, tag);
  } else if (state.parked) {
    host_->Unpark(op.fd, tag);
    host_->CancelLater(tag);
  }
}

void ReactorEngine::CancelDescriptor(int fd) {
  if (host_ != nullptr) host_->CancelDescriptor(fd);
}

int32_t ReactorEngine::Settle(uint16_t slot, Operation& /*op*/, int32_t result) {
  state_[slot] = SlotState{};
  return result;
}

Start ReactorEngine::AwaitReady(uint16_t slot, uint64_t tag, Operation& op, int32_t* result) {
  // Sockets only: the reactor makes its sockets non-blocking (io_uring's block, and its reads
  // wait), while a pipe or FIFO is non-blocking because its opener asked: EAGAIN, as on io_uring
  // (which does not wait on an O_NONBLOCK file either) and node:fs.
  if (host_ == nullptr || !IsSocketDescriptor(op.fd)) return Start::Done;
  const bool read = op.opcode == PROACTOR_OP_READ || op.opcode == PROACTOR_OP_READV;
  const int r = host_->Park(op.fd, read ? kPollReadable : kPollWritable, tag);
  if (r < 0) {
    *result = r;
    return Start::Done;
  }
  SlotState& state = state_[slot];
  state = SlotState{};
  state.parked = true;
  parks_++;
  return read ? Start::WaitReadable : Start::WaitWritable;
}

void ReactorEngine::KeepAlive(bool alive) {
  if (alive) {
    Napi::ObjectWrap<ReactorEngine>::Ref();
  } else {
    Napi::ObjectWrap<ReactorEngine>::Unref();
  }
}

void ReactorEngine::Release(bool host_alive) {
  // First: it waits for its requests in flight, which write into buffers the queue holds.
  aio_.Release(host_alive);
  if (host_alive && host_ != nullptr) host_->DropEngine(core_.id());
  host_ = nullptr;
  pool_.Release();
}

// ---- the Engine interface: the core's --------------------------------------------------------

Napi::Value ReactorEngine::Submit(const Napi::CallbackInfo& info) {
  core_.Submit(info.Env(), info[0].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

Napi::Value ReactorEngine::WaitSync(const Napi::CallbackInfo& info) {
  const uint32_t min = info[0].As<Napi::Number>().Uint32Value();
  const double timeout_ms = info.Length() > 1 ? info[1].As<Napi::Number>().DoubleValue() : -1;
  return Napi::Number::New(info.Env(), core_.WaitSync(info.Env(), min, timeout_ms));
}

Napi::Value ReactorEngine::JsRef(const Napi::CallbackInfo& info) {
  core_.SetUserRef(true);
  return info.Env().Undefined();
}

Napi::Value ReactorEngine::JsUnref(const Napi::CallbackInfo& info) {
  core_.SetUserRef(false);
  return info.Env().Undefined();
}

Napi::Value ReactorEngine::JsClose(const Napi::CallbackInfo& info) {
  core_.Close();
  return info.Env().Undefined();
}

/* Diagnostics for tests and for @proactor/aio's explanations. */
Napi::Value ReactorEngine::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (host_ != nullptr) {
    out.Set("poller", host_->poller().name());
    out.Set("pollerFd", host_->poller().descriptor());
    out.Set("wakeups", static_cast<double>(host_->wakeups()));
    out.Set("parked", static_cast<double>(host_->parked()));
    out.Set("timers", static_cast<double>(host_->timers()));
  }
  core_.FillInfo(out);
  out.Set("parks", static_cast<double>(parks_));
  out.Set("retries", static_cast<double>(retries_));
  out.Set("sendfileBytes", static_cast<double>(sendfile_bytes_));
  pool_.FillInfo(out);
  aio_.FillInfo(out);
  return out;
}

}  // namespace proactor
