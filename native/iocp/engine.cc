#include "engine.h"

#include <uv.h>

#include <algorithm>
#include <cstring>

#include "../common/fault_schedule.h"
#include "../common/system_error.h"
#include "../common/win/handle_table.h"

namespace proactor {

Napi::Function IocpEngine::Define(Napi::Env env) {
  return DefineClass(env, "IocpEngine",
                     {
                         InstanceMethod<&IocpEngine::Submit>("submit"),
                         InstanceMethod<&IocpEngine::WaitSync>("waitSync"),
                         InstanceMethod<&IocpEngine::JsRef>("ref"),
                         InstanceMethod<&IocpEngine::JsUnref>("unref"),
                         InstanceMethod<&IocpEngine::JsClose>("close"),
                         InstanceMethod<&IocpEngine::Info>("info"),
                         InstanceMethod<&IocpEngine::ProvideBuffers>("provideBuffers"),
                     });
}

IocpEngine::IocpEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IocpEngine>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "a RingContext is required");
  Napi::Object ring = info[0].As<Napi::Object>();
  host_ = IocpHost::Get(env);
  core_.Attach(env, ring, host_);
  // The queue's buffers stay alive as long as the engine.
  info.This().As<Napi::Object>().DefineProperty(Napi::PropertyDescriptor::Value("ring", ring, napi_default));
}

IocpEngine::~IocpEngine() { core_.Finalize(); }

bool IocpEngine::PollOnPool() {
  static const bool on_pool = [] {
    char value[8] = {};
    const DWORD n = GetEnvironmentVariableA("PROACTOR_IOCP_POLL", value, sizeof value);
    return n > 0 && n < sizeof value && std::strcmp(value, "pool") == 0;
  }();
  return on_pool;
}

bool IocpEngine::SendStuck(int fd) {
  // (Release builds: the list stays empty and InjectFault is constant false.)
  if (!stuck_sockets_.empty() && std::find(stuck_sockets_.begin(), stuck_sockets_.end(), fd) != stuck_sockets_.end()) {
    return true;
  }
  if (!InjectFault(FaultSite::send_stuck)) return false;
  stuck_sockets_.push_back(fd);
  return true;
}

Start IocpEngine::Launch(uint16_t /*slot*/, uint64_t tag, Operation& op, int32_t* result) {
  if (op.opcode == PROACTOR_OP_CLOSE && !stuck_sockets_.empty()) {
    stuck_sockets_.erase(std::remove(stuck_sockets_.begin(), stuck_sockets_.end(), op.fd), stuck_sockets_.end());
  }
  switch (op.opcode) {
    case PROACTOR_OP_TIMEOUT:
      return host_->StartTimer(tag, op.timeout_ns, result);
    case PROACTOR_OP_READ:
    case PROACTOR_OP_WRITE: {
      HandleEntry entry;
      if (HandleTable::Process().Get(op.fd, &entry) && entry.kind == HandleEntry::Kind::Socket) {
        // read(2) / write(2) on a socket: a WSARecv / WSASend through the port, as recv / send.
        // At a position: ESPIPE, as pread(2) / pwrite(2) say.
        if (op.offset >= 0) {
          *result = UV_ESPIPE;
          return Start::Done;
        }
        Operation transfer = op;
        transfer.opcode = op.opcode == PROACTOR_OP_READ ? PROACTOR_OP_RECV : PROACTOR_OP_SEND;
        if (transfer.opcode == PROACTOR_OP_SEND && SendStuck(op.fd)) return host_->StartStuckSend(tag, op, result);
        return host_->StartSocket(tag, transfer, result);
      }
      // At the current position: the pool, which keeps the position (handle_table.h) in order.
      if (op.offset < 0) return Start::Blocking;
      const Start start = host_->StartTransfer(tag, op, result);
      if (start != Start::Blocking) port_transfers_++;  // (Done: at once, or refused at the call)
      return start;
    }
    case PROACTOR_OP_SEND:
      if (SendStuck(op.fd)) return host_->StartStuckSend(tag, op, result);
      return host_->StartSocket(tag, op, result);
    case PROACTOR_OP_ACCEPT:
    case PROACTOR_OP_CONNECT:
    case PROACTOR_OP_RECV:
    case PROACTOR_OP_RECVFROM:
    case PROACTOR_OP_SENDTO:
      return host_->StartSocket(tag, op, result);
    case PROACTOR_OP_RECV_MULTI:
      if (!pool_.provided()) {
        *result = UV_ENOBUFS;  // no pool provided (aio-core provides one first)
        return Start::Done;
      }
      return host_->StartSocket(tag, op, result);
    case PROACTOR_OP_ACCEPT_MULTI:
      return host_->StartSocket(tag, op, result);
    case PROACTOR_OP_SENDFILE:
      return host_->StartSendfile(tag, op, result);
    case PROACTOR_OP_POLL:
      // (PROACTOR_IOCP_POLL=pool: WSAPoll on the blocking pool instead, for bench/src/iocp-poll.ts,
      // which measures the two against each other: AFD's poll holds no thread while it waits.)
      if (PollOnPool()) return Start::Blocking;
      return host_->StartPoll(tag, op, result);
    default:
      break;
  }
  if (HasTrait(op.opcode, kRunsAtLaunch)) {
    *result = static_cast<int32_t>(Call(op));
    // The reading side shut down (also where Linux says ENOTCONN and shuts it all the same: a
    // datagram socket with no peer): Linux ends the receives waiting there with 0, Windows not.
    if (op.opcode == PROACTOR_OP_SHUTDOWN && op.op_flags != PROACTOR_SHUT_WR && host_ != nullptr &&
        (*result == 0 || *result == UV_ENOTCONN)) {
      host_->EndReceives(op.fd);
    }
    return Start::Done;
  }
  if (HasTrait(op.opcode, kSocket)) {
    *result = UV_ENOSYS;
    return Start::Done;
  }
  return Start::Blocking;
}

void IocpEngine::Cancel(uint16_t /*slot*/, uint64_t tag, const Operation& /*op*/) {
  if (host_ != nullptr) host_->Cancel(tag);
}

void IocpEngine::CancelDescriptor(int fd) {
  if (host_ != nullptr) host_->CancelDescriptor(fd);
}

void IocpEngine::KeepAlive(bool alive) {
  if (alive) {
    Napi::ObjectWrap<IocpEngine>::Ref();
  } else {
    Napi::ObjectWrap<IocpEngine>::Unref();
  }
}

void IocpEngine::BuffersDelivered(const std::vector<uint32_t>& ids) {
  for (uint32_t id : ids) pool_.Give(id);
}

void IocpEngine::Release(bool /*host_alive*/) {
  host_ = nullptr;
  pool_.Release();
}

/* provideBuffers(memory: Uint8Array, size: number, count: number): the receive pool of
 * PROACTOR_OP_RECV_MULTI, once per engine. */
Napi::Value IocpEngine::ProvideBuffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (core_.closed() || host_ == nullptr) throw CodedError(env, "ERR_PROACTOR_QUEUE_DESTROYED", "the IOCP engine is closed");
  pool_.Provide(info);
  return env.Undefined();
}

Napi::Value IocpEngine::Submit(const Napi::CallbackInfo& info) {
  core_.Submit(info.Env(), info[0].As<Napi::Number>().Uint32Value());
  return info.Env().Undefined();
}

Napi::Value IocpEngine::WaitSync(const Napi::CallbackInfo& info) {
  const uint32_t min = info[0].As<Napi::Number>().Uint32Value();
  const double timeout_ms = info.Length() > 1 ? info[1].As<Napi::Number>().DoubleValue() : -1;
  return Napi::Number::New(info.Env(), core_.WaitSync(info.Env(), min, timeout_ms));
}

Napi::Value IocpEngine::JsRef(const Napi::CallbackInfo& info) {
  core_.SetUserRef(true);
  return info.Env().Undefined();
}

Napi::Value IocpEngine::JsUnref(const Napi::CallbackInfo& info) {
  core_.SetUserRef(false);
  return info.Env().Undefined();
}

Napi::Value IocpEngine::JsClose(const Napi::CallbackInfo& info) {
  core_.Close();
  return info.Env().Undefined();
}

Napi::Value IocpEngine::Info(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  core_.FillInfo(out);
  out.Set("portTransfers", Napi::Number::New(info.Env(), static_cast<double>(port_transfers_)));
  pool_.FillInfo(out);
  if (host_ != nullptr) {
    out.Set("packets", Napi::Number::New(info.Env(), static_cast<double>(host_->packets())));
    out.Set("inPort", Napi::Number::New(info.Env(), static_cast<double>(host_->in_port())));
    out.Set("wakeups", Napi::Number::New(info.Env(), static_cast<double>(host_->wakeups())));
  }
  return out;
}

}  // namespace proactor
