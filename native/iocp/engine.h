/*
 * IocpEngine: the IOCP driver of the engine core (../common/engine_core.h) for one aio-core
 * queue, and its JS object (the Engine interface of aio-core: submit, waitSync, ref, unref,
 * close, info). The environment's IocpHost (host.h) owns the port.
 *
 * How each operation runs (Launch):
 * - read / write at a position (and append writes): ReadFile / WriteFile through the port; on a
 *   socket, WSARecv / WSASend through the port, as recv / send;
 * - timeouts: a thread-pool timer that posts a packet to the port;
 * - calls that never wait (socket, bind, listen, shutdown, setsockopt, getsockname): Call() at
 *   launch;
 * - every other file operation (open, close, stat, fsync, rename, reads at the current position,
 *   readv / writev, ...): Call() on the environment's blocking pool (../common/win/calls.cc);
 * - socket operations that wait: AcceptEx, ConnectEx (bound first), WSARecv, WSASend,
 *   WSARecvFrom, WSASendTo through the port;
 * - sendfile: TransmitFile through the port to a stream socket; to a file, Call() on the pool;
 * - poll: AFD's poll (IOCTL_AFD_POLL) through the port;
 * - multishot accepts and recvs (accept_multi, recv_multi): one request in the port per
 *   iterator, living across its packets (IocpHost::Multishot): AcceptEx after AcceptEx; for
 *   receives, zero-byte WSARecvs that wait holding no buffer, and a WSARecv into a buffer of the
 *   queue's provided pool (provideBuffers) only once data is there, so an idle connection pins
 *   none; with none free it ends with UV_ENOBUFS, as io_uring's does when its buffer ring is
 *   empty.
 */
#ifndef PROACTOR_IOCP_ENGINE_H
#define PROACTOR_IOCP_ENGINE_H

#include <napi.h>

#include <vector>

#include "../common/engine_core.h"
#include "../common/receive_pool.h"
#include "host.h"

namespace proactor {

class IocpEngine : public Napi::ObjectWrap<IocpEngine>, public EngineDriver {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit IocpEngine(const Napi::CallbackInfo& info);
  ~IocpEngine() override;

  /* ---- EngineDriver ---- */
  Start Launch(uint16_t slot, uint64_t tag, Operation& op, int32_t* result) override;
  void Cancel(uint16_t slot, uint64_t tag, const Operation& op) override;
  void CancelDescriptor(int fd) override;
  void BuffersDelivered(const std::vector<uint32_t>& ids) override;
  void KeepAlive(bool alive) override;
  void Release(bool host_alive) override;

  /* recv_multi's provided buffers (the host receives into them, IocpHost::Multishot). */
  ReceivePool& receive_pool() { return pool_; }

 private:
  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value WaitSync(const Napi::CallbackInfo& info);
  Napi::Value JsRef(const Napi::CallbackInfo& info);
  Napi::Value JsUnref(const Napi::CallbackInfo& info);
  Napi::Value JsClose(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value ProvideBuffers(const Napi::CallbackInfo& info);

  /* Fault builds: whether a send on `fd` stays unwritable (send_stuck, for good once chosen). */
  bool SendStuck(int fd);
  /* Whether polls run as WSAPoll on the blocking pool (PROACTOR_IOCP_POLL=pool, read once): only
   * for the benchmark that compares that with AFD's poll, the default. */
  static bool PollOnPool();

  IocpHost* host_ = nullptr;
  ReceivePool pool_;
  std::vector<int> stuck_sockets_; /* fault builds: sockets whose sends wait for good */
  uint64_t port_transfers_ = 0; /* reads and writes started through the port */
  EngineCore core_{this, "IOCP"};
};

}  // namespace proactor

#endif  // PROACTOR_IOCP_ENGINE_H
