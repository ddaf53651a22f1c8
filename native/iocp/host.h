/*
 * IocpHost: the I/O completion port of one Node environment (the main thread, or one worker),
 * shared by every queue (IocpEngine) attached in that environment. What every mechanism's host
 * does (engine registry, wakeup, blocking pool, dispatch into JS, teardown) is EnvHost's
 * (../common/env_host.h); this is what is IOCP's own:
 *
 * - its own completion port: libuv's port treats every packet on it as one of libuv's requests,
 *   so the addon cannot share it;
 * - a thread blocked in GetQueuedCompletionStatusEx that turns packets into results (bytes, or a
 *   libuv error mapped once from the Win32 / NT status) and signals the environment's wakeup
 *   once per batch of packets;
 * - Requests: one OVERLAPPED per operation in the port (ReadFile / WriteFile at a position, and
 *   timers: a thread-pool timer whose callback posts a packet), owned here from start to the
 *   reaping of its packet (a multishot operation's: of its final packet, reusing the OVERLAPPED
 *   for one call at a time), so that neither a queue closing nor its environment going away frees
 *   memory the kernel still writes;
 * - association of handles with the port (once per handle, CreateIoCompletionPort).
 *
 * Threading: everything but the completion thread runs on the environment's JS thread; the two
 * share only `completed_` (under its mutex).
 */
#ifndef PROACTOR_IOCP_HOST_H
#define PROACTOR_IOCP_HOST_H

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../common/engine_core.h"
#include "../common/env_host.h"
#include "../common/operation.h"
#include "../common/platform.h"

namespace proactor {

class IocpHost final : public EnvHost {
 public:
  /* The IOCP host of `env`, created on first use; throws a Napi::Error with code / errno /
   * syscall when the port or its thread cannot be set up. */
  static IocpHost* Get(Napi::Env env);

  ~IocpHost() override;

  /* Starts a ReadFile / WriteFile of `op` (a file descriptor, an offset >= 0 or an append write)
   * through the port. Submitted, Blocking when the handle cannot use this port (associated with
   * another environment's), or Done with `*result` when it failed to start. */
  Start StartTransfer(uint64_t tag, const Operation& op, int32_t* result);
  /* Starts a socket operation that waits (accept, connect, recv, send, recvfrom, sendto) as
   * AcceptEx / ConnectEx / WSARecv / WSASend / WSARecvFrom / WSASendTo through the port, and the
   * multishot ones (accept_multi, recv_multi: see Multishot below). Submitted, or Done with
   * `*result` when it failed to start. */
  Start StartSocket(uint64_t tag, const Operation& op, int32_t* result);
  /* Starts PROACTOR_OP_POLL on a socket as AFD's poll (IOCTL_AFD_POLL, what WSAPoll and libuv's
   * uv_poll use inside Winsock) through the port, with the events Linux's poll(2) reports for
   * the same situation; a regular file is ready at once. Submitted, or Done with `*result`. */
  Start StartPoll(uint64_t tag, const Operation& op, int32_t* result);
  /* Starts PROACTOR_OP_SENDFILE to a stream socket as TransmitFile through the port (the file
   * read at op.offset, its own position untouched). Blocking when the output is a file (Call():
   * read and write on the pool), Done with `*result` when it is decided now (bad descriptors, an
   * input that is not a disk file, nothing to send). */
  Start StartSendfile(uint64_t tag, const Operation& op, int32_t* result);
  /* Fault builds (send_stuck): a send that waits for good, in no Winsock call, until it is
   * cancelled (ECANCELED through the port, like every request's end). Submitted, or Done. */
  Start StartStuckSend(uint64_t tag, const Operation& op, int32_t* result);
  /* Starts PROACTOR_OP_TIMEOUT: Submitted, or Done with `*result`. */
  Start StartTimer(uint64_t tag, uint64_t timeout_ns, int32_t* result);
  /* Cancels the request of `tag`, best effort: its one packet still comes. */
  void Cancel(uint64_t tag);
  /* Cancels every request on descriptor `fd`. */
  void CancelDescriptor(int fd);
  /* The receives waiting on socket `fd` end with 0 (and no address), the end of the stream: its
   * reading side was shut down through the queue, which ends them on Linux and not on Windows. */
  void EndReceives(int fd);

  const char* kind() const override { return "iocp"; }
  /* Blocks on the wakeup's event (every packet batch and pool result sets it). */
  int Wait(int64_t timeout_ns) override;
  const char* wait_syscall() const override { return "WaitForSingleObject"; }

  uint64_t packets() const { return packets_.load(std::memory_order_relaxed); }
  size_t in_port() const { return requests_.size(); }

 private:
  struct Request;
  struct Completed {
    Request* request;
    int32_t result;
  };

  explicit IocpHost(napi_env env) : EnvHost(env, "proactor:iocp") {}
  void OpenMechanism(Napi::Env env) override;
  void ReapMechanism() override;
  void CancelAndDrain() override;
  void CloseMechanism() override;

  void Run();
  void StopThread();
  /* Whether a ConnectEx on `fd` is in the port. */
  bool Connecting(int fd) const;
  /* Associates the handle of `fd` with the port; false when it cannot be (another port has it).
   * A `file`'s handle also skips the port when a transfer completes at once, where it can. */
  bool Associate(int fd, HANDLE handle, HANDLE current_port, bool file = false);
  void Route(const Completed& c);
  /*
   * A packet of a multishot receive (recv_multi; accept_multi's are RouteAccepts'), on the JS
   * thread: its items posted to `core`, then true when the request is in the port again (its
   * Request lives on), or false with its final result in `*result`. A cancel
   * (Request::cancelled) ends it with ECANCELED: exactly one final result.
   *
   * The zero-byte reads libuv's TCP reads use (src/win/tcp.c): a WSARecv of no bytes waits for
   * data or the end of the stream holding no buffer, the only call of recv_multi in the port.
   * When it completes, ReceiveWaiting takes what is there. On a datagram socket the zero-byte
   * read peeks (MSG_PEEK, as libuv's UDP does), so that it consumes no datagram.
   */
  bool Multishot(EngineCore* core, Request* request, int32_t* result);
  /*
   * A packet of one of the AcceptEx calls of an accepts() (accept_multi), on the JS thread.
   * accepts() keeps several AcceptEx calls in the port at once (AcceptsAhead(), as libuv keeps
   * several for a server), so that connections arriving together are taken without a round trip
   * through the JS thread each: every call is a Request of its own (its OVERLAPPED, its socket,
   * its address buffer), the first (in requests_) leads the group and owns the others. Each
   * connection is an item (its descriptor, as a single accept's: FinishSocket), then the same
   * member issues its next AcceptEx; a connection reset before it was taken is skipped, as the
   * engine core restarts a single accept. The first error (a cancel: ECANCELED) decides the final
   * result and cancels the other members; connections they took meanwhile are still items
   * (nothing is lost: aio-core closes what nobody asks for); the final result is posted, once,
   * when the last member's packet is in. `op`: null when the queue went away.
   */
  void RouteAccepts(EngineCore* core, const Operation* op, Request* member, int32_t result);
  /* Decides the final result of the accept group led by `group` (unless decided) and cancels
   * its members' AcceptEx calls. */
  void EndAccepts(Request* group, int32_t result);
  /* Issues AcceptEx for a new socket of `request`: 0 when its packet comes, else an error (and
   * no packet). */
  int32_t ArmAccept(Request* request);
  /* Issues recv_multi's zero-byte WSARecv: true when its packet comes, else false with the
   * final result in `*result`. */
  bool AwaitData(Request* request, int32_t* result);
  /* recv_multi's receives once its zero-byte read completed: WSARecv calls without an
   * OVERLAPPED on the non-blocking socket (libuv's "nonblocking reads until the buffer is
   * empty"), each into a buffer of the pool of `core`, each chunk an item (an empty datagram is
   * skipped), until none waits (WSAEWOULDBLOCK, or less than a buffer from a stream: the
   * zero-byte read again) or kReceiveBurst chunks
   * were taken (the zero-byte read again, behind the other packets in the port). True when the
   * zero-byte read is in the port again, else false with the final result in `*result`: 0 at the
   * end of the stream or after shutdown('read'), UV_ENOBUFS when the pool has no free buffer (as
   * io_uring's with its buffer ring empty: aio-core starts it again), or the error. (An
   * overlapped WSARecv per chunk costs a packet through the port each: bench/src/iocp-recvs.ts.) */
  bool ReceiveWaiting(EngineCore* core, Request* request, int32_t* result);
  /* On the JS thread, for a completed accept or connect: what Winsock wants after it
   * (SO_UPDATE_*_CONTEXT), the accepted socket into the table and its peer into the address; for
   * a poll, AFD's events as PROACTOR_POLL_* bits. */
  int32_t FinishSocket(Request* request, const Operation* op, int32_t result);
  void CancelRequest(Request* request);
  static void CALLBACK OnTimer(PTP_CALLBACK_INSTANCE instance, void* context, PTP_TIMER timer);

  HANDLE port_ = nullptr;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<Completed> completed_; /* from the completion thread, under mutex_ */
  std::unordered_map<uint64_t, Request*> requests_; /* in the port, by tag (JS thread) */
  std::atomic<uint64_t> packets_{0};
};

}  // namespace proactor

#endif  // PROACTOR_IOCP_HOST_H
