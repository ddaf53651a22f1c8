/*
 * ReactorEngine: the aio-core Engine (packages/aio-core/src/backend.ts) of one queue over the
 * readiness reactor its environment shares (ReactorHost): the reactor's driver of the engine
 * core (../common/engine_core.h), which owns slots, chains, local results, delivery, ref/unref
 * and waitSync. The same engine serves every poller (epoll, kqueue, poll(2)): it includes
 * poller.h only.
 *
 * How each operation starts (Launch):
 * - socket operations that may wait (accept, connect, recv, send, recvfrom, sendto, poll): the
 *   non-blocking call first (socket_calls.h) unless operations already wait on the descriptor
 *   in that direction; on UV_EAGAIN the operation parks on the host (Start::WaitReadable /
 *   WaitWritable) and is retried, in order, when the poller reports the descriptor ready.
 *   connect completes on writability with SO_ERROR; sends complete with what the kernel took
 *   (a short count, as io_uring's);
 * - sendfile to a non-blocking descriptor (a socket; SendfileCanWait): non-blocking sendfile(2)
 *   calls at launch and on each writability report, parked as a send in between, until the
 *   length is sent, the input ends, or the output fails (the bytes sent so far, or the error
 *   when none went out), as io_uring's and aio-node's end; to a regular file or a blocking
 *   descriptor, sendfile(2) on the pool. A cancel or a close of the socket through the queue
 *   ends a waiting one with ECANCELED even after part of the file went out;
 * - socket operations that never wait (socket, bind, listen, shutdown, setsockopt, getsockname)
 *   and nop: a plain call at launch (Start::Done). Sockets are created non-blocking;
 * - timeouts: the host's timers (Start::Submitted);
 * - close: the poller forgets the descriptor (waiting operations were ended by the core through
 *   CancelDescriptor first), then the call runs on the pool;
 * - read, write, readv, writev, fsync and fdatasync on a descriptor open with O_DIRECT (a
 *   regular file or a block device): Linux AIO (linux_aio.h), when it is on; the pool otherwise;
 * - every other (file and metadata) operation: the environment's blocking pool, Call(). A read
 *   or write (readv, writev) there that meets a socket not ready (EAGAIN: the reactor's sockets
 *   are non-blocking) parks as a recv (send) would, and is retried with the plain call on
 *   readiness (AwaitReady): it waits, as on io_uring (a non-blocking pipe's EAGAIN stays, as there);
 * - multishot accepts and recvs (accept_multi, recv_multi): parked for readability from the
 *   start and never leaving the descriptor's list until their final result: each report accepts
 *   (receives) until the call would block, every success an item (PROACTOR_CQE_F_MORE), as
 *   io_uring's multishot requests do. A receive takes a buffer of the queue's provided pool
 *   (provideBuffers) only for the call itself, so an idle connection pins none; with none free
 *   it ends with UV_ENOBUFS, as io_uring's does when its buffer ring is empty. At most
 *   kMultishotBurst items per report, so that one busy socket does not starve the others (the
 *   poller reports it again at once).
 *
 * Lifetimes: as the io_uring engine's (the JS object is kept alive while operations are in
 * flight, and it holds the RingContext).
 */
#ifndef PROACTOR_REACTOR_ENGINE_H
#define PROACTOR_REACTOR_ENGINE_H

#include <napi.h>

#include <cstdint>
#include <vector>

#include "../common/engine_core.h"
#include "../common/receive_pool.h"
#include "host.h"
#include "linux_aio.h"

namespace proactor {

class ReactorEngine : public Napi::ObjectWrap<ReactorEngine>, public EngineDriver {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit ReactorEngine(const Napi::CallbackInfo& info);
  ~ReactorEngine() override;

  /* Tries the parked operation `tag` again (its descriptor was reported ready): its result, or
   * UV_EAGAIN to stay parked. A socket error the poller consumed (`*consumed_error` < 0, see
   * PollEvent::error) is the result of a call that would have met it (not a poll, which reports
   * readiness, nor a receive for EPIPE), and is then cleared. */
  int64_t Retry(uint64_t tag, int32_t* consumed_error);

  /* ---- EngineDriver ---- */
  Start Launch(uint16_t slot, uint64_t tag, Operation& op, int32_t* result) override;
  void Cancel(uint16_t slot, uint64_t tag, const Operation& op) override;
  void CancelDescriptor(int fd) override;
  int32_t Settle(uint16_t slot, Operation& op, int32_t result) override;
  Start AwaitReady(uint16_t slot, uint64_t tag, Operation& op, int32_t* result) override;
  void BuffersDelivered(const std::vector<uint32_t>& ids) override;
  void KeepAlive(bool alive) override;
  void Release(bool host_alive) override;

  /* Submits the Linux AIO requests launched since the last call (ReactorHost::Flush). */
  void FlushKernelRequests() { aio_.Flush(); }

 private:
  /* What the engine keeps per slot while its operation is parked or timed. */
  struct SlotState {
    bool parked = false;
    bool connecting = false; /* connect returned EINPROGRESS: the outcome is SO_ERROR */
    bool timer = false;
    int64_t deadline = 0;
    uint32_t sent = 0; /* sendfile: the bytes sent so far */
  };

  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value WaitSync(const Napi::CallbackInfo& info);
  Napi::Value JsRef(const Napi::CallbackInfo& info);
  Napi::Value JsUnref(const Napi::CallbackInfo& info);
  Napi::Value JsClose(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value ProvideBuffers(const Napi::CallbackInfo& info);

  /* A multishot operation's turn after a readiness report: items posted, then UV_EAGAIN (stay
   * parked) or its final result. */
  int64_t RunMultishot(uint16_t slot, const Operation& op);

  /* The non-blocking attempt of a socket operation that may wait. */
  int64_t Attempt(SlotState& state, const Operation& op);
  /* sendfile's attempt: calls until the socket is full (UV_EAGAIN: parked, `state.sent` kept),
   * or its final result (see the file comment). */
  int64_t ContinueSendfile(SlotState& state, const Operation& op);

  ReactorHost* host_ = nullptr; /* null once closed or detached */
  ReceivePool pool_; /* recv_multi's provided buffers */
  EngineCore core_{this, "reactor"};
  LinuxAio aio_{core_};
  std::vector<SlotState> state_;
  uint64_t parks_ = 0;   /* operations that had to wait for readiness */
  uint64_t retries_ = 0; /* attempts after a readiness report */
  uint64_t sendfile_bytes_ = 0; /* moved by non-blocking sendfile(2) calls (not the pool's) */
};

}  // namespace proactor

#endif  // PROACTOR_REACTOR_ENGINE_H
