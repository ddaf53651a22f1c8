#include "host.h"

#include <mswsock.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>

#include "../common/engine_core.h"
#include "../common/fault_schedule.h"
#include "../common/system_error.h"
#include "../common/win/error_table.h"
#include "../common/win/handle_table.h"
#include "../common/win/socket_options.h"
#include "engine.h"

namespace proactor {

namespace {

/* Completion keys: what a packet is. */
constexpr ULONG_PTR kTransferKey = 1; /* a ReadFile / WriteFile of a Request */
constexpr ULONG_PTR kTimerKey = 2;    /* a Request's timer: 0 bytes expired, 1 cancelled */
constexpr ULONG_PTR kStopKey = 3;     /* the completion thread ends (no OVERLAPPED) */
constexpr ULONG_PTR kStuckKey = 4;    /* a stuck send's cancellation (fault builds: send_stuck) */

/* Packets taken per GetQueuedCompletionStatusEx call. */
constexpr ULONG kBatch = 128;

/* How long environment teardown waits for cancelled requests before giving up on them. */
constexpr auto kDrainLimit = std::chrono::seconds(10);

/* The most one ReadFile / WriteFile moves: results are int32 (a short transfer is a result). */
constexpr DWORD kTransferMax = 0x7FFFF000;

/* The largest UDP payloads: 65535 less the IPv4 and UDP headers, less the UDP header (IPv6). */
constexpr uint32_t kUdp4PayloadMax = 65507;
constexpr uint32_t kUdp6PayloadMax = 65527;

/* AcceptEx's buffer: the local and the remote address, each with 16 bytes of its own. */
constexpr DWORD kAcceptAddressLength = sizeof(SOCKADDR_STORAGE) + 16;

/* Chunks recvs() takes from one socket before it waits behind the other packets in the port
 * (IocpHost::ReceiveWaiting; the reactor's kMultishotBurst). */
constexpr int kReceiveBurst = 16;

/* AcceptEx calls one accepts() keeps in the port (IocpHost::RouteAccepts). */
constexpr int kAcceptsAhead = 8;

/* kAcceptsAhead, or PROACTOR_IOCP_ACCEPTS (1 to 64, read once): for bench/src/iocp-accepts.ts,
 * which compares it with one AcceptEx at a time. */
int AcceptsAhead() {
  static const int n = [] {
    char value[8] = {};
    const DWORD length = GetEnvironmentVariableA("PROACTOR_IOCP_ACCEPTS", value, sizeof value);
    if (length == 0 || length >= sizeof value) return kAcceptsAhead;
    char* end = nullptr;
    const long v = std::strtol(value, &end, 10);
    return *end == '\0' && v >= 1 && v <= 64 ? static_cast<int>(v) : kAcceptsAhead;
  }();
  return n;
}

/* ConnectEx, found once through WSAIoctl (mswsock.h has no import for it). */
LPFN_CONNECTEX ConnectExOf(SOCKET s) {
  static std::atomic<LPFN_CONNECTEX> connect_ex{nullptr};
  LPFN_CONNECTEX f = connect_ex.load();
  if (f != nullptr) return f;
  GUID guid = WSAID_CONNECTEX;
  DWORD bytes = 0;
  if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &f, sizeof f, &bytes, nullptr, nullptr) != 0) {
    return nullptr;
  }
  connect_ex.store(f);
  return f;
}

/* AFD's poll: not in the SDK headers. The layout and event bits as libuv (src/win/winsock.h)
 * and Wine (include/wine/afd.h) declare them; the input and output are one buffer. */
constexpr ULONG kIoctlAfdPoll = 0x00012024;
constexpr ULONG kAfdPollReceive = 0x0001;
constexpr ULONG kAfdPollReceiveExpedited = 0x0002;
constexpr ULONG kAfdPollSend = 0x0004;
constexpr ULONG kAfdPollDisconnect = 0x0008; /* the peer's end of stream arrived */
constexpr ULONG kAfdPollAbort = 0x0010;      /* reset */
constexpr ULONG kAfdPollAccept = 0x0080;
constexpr ULONG kAfdPollConnectFail = 0x0100;

struct AfdPollInfo {
  LARGE_INTEGER timeout; /* INT64_MAX: none */
  ULONG count;           /* out: how many of the handles are ready */
  ULONG exclusive;
  struct {
    HANDLE handle;
    ULONG events; /* in: wanted; out: ready */
    LONG status;
  } handles[1];
};

/* ntdll's NtDeviceIoControlFile and RtlNtStatusToDosError, found once (no import library needed:
 * ntdll is in every process). */
using NtDeviceIoControlFileCall = LONG(NTAPI*)(HANDLE, HANDLE, PVOID, PVOID, PVOID, ULONG, PVOID, ULONG, PVOID,
                                               ULONG);
using NtStatusToDosErrorCall = ULONG(NTAPI*)(LONG);
template <typename F>
F NtdllFunction(const char* name) {
  return reinterpret_cast<F>(reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(L"ntdll.dll"), name)));
}

/* AFD's ready events as the PROACTOR_POLL_* events Linux's poll(2) reports for the same state. */
uint32_t PollEventsOf(ULONG afd, bool write_shut) {
  uint32_t events = 0;
  if (afd & (kAfdPollReceive | kAfdPollReceiveExpedited | kAfdPollAccept)) events |= PROACTOR_POLL_IN;
  if (afd & kAfdPollSend) events |= PROACTOR_POLL_OUT;
  // The peer's end of stream: readable (a recv returns 0), RDHUP; HUP once this side's writing
  // side is shut down too (both directions are).
  if (afd & kAfdPollDisconnect) events |= PROACTOR_POLL_IN | PROACTOR_POLL_RDHUP | (write_shut ? PROACTOR_POLL_HUP : 0);
  // A reset: Linux reports it readable, writable, ERR and HUP.
  if (afd & kAfdPollAbort) events |= PROACTOR_POLL_IN | PROACTOR_POLL_OUT | PROACTOR_POLL_ERR | PROACTOR_POLL_HUP;
  if (afd & kAfdPollConnectFail) events |= PROACTOR_POLL_OUT | PROACTOR_POLL_ERR | PROACTOR_POLL_HUP;
  return events;
}

int32_t SocketError() { return TranslateSystemError(static_cast<DWORD>(WSAGetLastError())); }

/* Whether a packet still comes for an OVERLAPPED whose call failed without going pending (the
 * caller set Internal to STATUS_PENDING before the call). Windows queues a packet for every
 * status but an error: a warning such as STATUS_BUFFER_OVERFLOW (a datagram longer than the
 * buffer, WSAEMSGSIZE) is written into the OVERLAPPED and queued although the call reports a
 * failure. Wine follows the same rule (server/async.c: no completion only when the status is an
 * NT error and the request never went pending), and also gives STATUS_BUFFER_OVERFLOW for an
 * oversized datagram send. So the Request must outlive such a failure: its packet is the result.
 * An NT status's severity is its top two bits; 3 is an error. */
bool PacketFollowsFailure(const OVERLAPPED& overlapped) {
  const auto status = static_cast<uint32_t>(overlapped.Internal);
  return status != STATUS_PENDING && (status >> 30) != 3;
}

/* After an overlapped Winsock call that reported `ok`: 0 when its packet comes (done at once,
 * pending, or a failure Windows still queues), else the Winsock error (no packet comes). */
int NoPacketError(BOOL ok, const OVERLAPPED& overlapped) {
  if (ok) return 0;
  const int error = WSAGetLastError();
  if (error == WSA_IO_PENDING || error == ERROR_IO_PENDING || PacketFollowsFailure(overlapped)) return 0;
  return error;
}

/* A receive on a datagram socket: a datagram longer than the buffer completes with the bytes that
 * fit, as recv(2) / recvfrom(2) truncate, where Windows reports WSAEMSGSIZE / ERROR_MORE_DATA. */
bool TruncatesDatagram(uint8_t opcode, int type) {
  return opcode == PROACTOR_OP_RECVFROM ||
         ((opcode == PROACTOR_OP_RECV || opcode == PROACTOR_OP_RECV_MULTI) && type == SOCK_DGRAM);
}

/* A receive (recv, recvfrom; read on a socket) on a socket whose reading side was shut down:
 * Winsock fails it with WSAESHUTDOWN, POSIX's recv(2) returns 0, the end of the stream (and
 * recvfrom no address). */
bool ReceiveShutDown(uint8_t opcode, int error) {
  return error == WSAESHUTDOWN &&
         (opcode == PROACTOR_OP_RECV || opcode == PROACTOR_OP_RECVFROM || opcode == PROACTOR_OP_RECV_MULTI);
}

bool IsAccept(uint8_t opcode) { return opcode == PROACTOR_OP_ACCEPT || opcode == PROACTOR_OP_ACCEPT_MULTI; }

/* The receive pool of the queue of `core` (every engine of an IOCP host is an IocpEngine). */
ReceivePool& PoolOf(EngineCore* core) { return static_cast<IocpEngine*>(core->driver())->receive_pool(); }

}  // namespace

struct IocpHost::Request {
  OVERLAPPED overlapped; /* first: a packet's lpOverlapped points at the Request */
  uint64_t tag = 0;
  /* StuckSend: a send that waits for good (fault builds: send_stuck), in no call. */
  enum class Kind : uint8_t { Transfer, Socket, Timer, StuckSend } kind = Kind::Transfer;
  bool write = false;
  uint8_t opcode = 0; /* Socket: the operation */
  int fd = -1;
  HANDLE handle = nullptr; /* the file, or the socket as a handle (CancelIoEx) */
  SOCKET socket = INVALID_SOCKET;
  SOCKET accepted = INVALID_SOCKET; /* accept: the socket AcceptEx fills */
  int family = 0;
  int type = 0;
  WSABUF buffer = {0, nullptr};
  DWORD flags = 0;
  uint8_t addresses[2 * kAcceptAddressLength] = {};
  AfdPollInfo poll = {};    /* poll: AFD's in and out */
  uint32_t poll_known = 0;  /* poll: PROACTOR_POLL_* events known without AFD (see StartPoll) */
  bool receive_shut = false; /* a receive that ended with WSAESHUTDOWN: 0, and no address */
  /* JavaScript thread: a receive cancelled because its socket's reading side was shut down
   * through the queue (EndReceives): it ends with 0 unless bytes came first. */
  bool ended_by_shutdown = false;
  /* JavaScript thread: a cancel was asked for (Cancel, CancelDescriptor, teardown). A multishot
   * request issues no call after the packet in hand (IocpHost::Multishot). */
  bool cancelled = false;
  /* accept_multi (RouteAccepts): the members of an accepts()' group. The leader (in requests_)
   * owns the others (`followers`, whose `leader` it is) and holds the final result once decided
   * (`group_result` <= 0). `waiting`: this member has a packet to come. */
  Request* leader = nullptr;
  std::vector<Request*> followers;
  int32_t group_result = 1;
  bool waiting = false;
  HANDLE port = nullptr;
  PTP_TIMER timer = nullptr;
  /* Timer: 0 armed, 1 fired, 2 cancelled; whoever moves it from 0 posts the one packet (also a
   * StuckSend's: 0 waiting, 2 cancelled). */
  std::atomic<int> timer_state{0};

  Request() { std::memset(&overlapped, 0, sizeof overlapped); }
  /* Before a multishot request's next call: a fresh OVERLAPPED (see PacketFollowsFailure). */
  void Reissue() {
    std::memset(&overlapped, 0, sizeof overlapped);
    overlapped.Internal = STATUS_PENDING;
    flags = 0;
    receive_shut = false;
  }
  /* A socket operation's: `op` on the socket of `entry`. */
  Request(uint64_t operation_tag, const Operation& op, const HandleEntry& entry) : Request() {
    tag = operation_tag;
    kind = Kind::Socket;
    opcode = op.opcode;
    fd = op.fd;
    handle = reinterpret_cast<HANDLE>(entry.socket);
    socket = entry.socket;
    family = entry.family;
    type = entry.type;
  }
  /* A group's leader: whether one of its members has a packet to come. */
  bool GroupWaiting() const {
    return waiting || std::any_of(followers.begin(), followers.end(), [](const Request* f) { return f->waiting; });
  }
  /* A group's leader: cancels its followers' AcceptEx calls. */
  void CancelFollowers() {
    for (Request* follower : followers) {
      if (follower->waiting) (void)CancelIoEx(follower->handle, &follower->overlapped);
    }
  }
  ~Request() {
    for (Request* follower : followers) delete follower;
    if (accepted != INVALID_SOCKET) closesocket(accepted);  // not handed over
    if (timer != nullptr) {
      // The callback posts its packet last: after the packet was reaped it has (nearly) returned.
      WaitForThreadpoolTimerCallbacks(timer, TRUE);
      CloseThreadpoolTimer(timer);
    }
  }
};

IocpHost* IocpHost::Get(Napi::Env env) {
  EnvHost* found = Find(env, [](EnvHost& host) { return std::strcmp(host.kind(), "iocp") == 0; });
  if (found != nullptr) return static_cast<IocpHost*>(found);
  return static_cast<IocpHost*>(Adopt(env, std::unique_ptr<EnvHost>(new IocpHost(env))));
}

IocpHost::~IocpHost() { Teardown(nullptr, nullptr); }

void IocpHost::OpenMechanism(Napi::Env env) {
  port_ = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  if (port_ == nullptr) throw SystemError(env, LastError(), "CreateIoCompletionPort");
  try {
    thread_ = std::thread(&IocpHost::Run, this);
  } catch (const std::system_error&) {
    CloseHandle(port_);
    port_ = nullptr;
    throw SystemError(env, UV_EAGAIN, "CreateThread");
  }
}

// ---- the completion thread -----------------------------------------------------------------

void IocpHost::Run() {
  OVERLAPPED_ENTRY entries[kBatch];
  std::vector<Completed> batch;
  for (;;) {
    ULONG n = 0;
    BOOL ok = TRUE;  // (port_wait_empty: returned with no packet taken)
    if (InjectFault(FaultSite::port_wait_timeout)) {
      ok = FALSE;
      SetLastError(WAIT_TIMEOUT);
    } else if (!InjectFault(FaultSite::port_wait_empty)) {
      ok = GetQueuedCompletionStatusEx(port_, entries, kBatch, &n, INFINITE, FALSE);
    }
    if (!ok) {
      // The port was closed under us (ERROR_ABANDONED_WAIT_0): nothing more can come. Anything
      // else (WAIT_TIMEOUT) took no packet: wait again.
      if (GetLastError() == ERROR_ABANDONED_WAIT_0 || GetLastError() == ERROR_INVALID_HANDLE) return;
      continue;
    }
    bool stop = false;
    batch.clear();
    for (ULONG i = 0; i < n; i++) {
      const OVERLAPPED_ENTRY& e = entries[i];
      if (e.lpOverlapped == nullptr) {
        stop = stop || e.lpCompletionKey == kStopKey;
        continue;
      }
      auto* request = reinterpret_cast<Request*>(e.lpOverlapped);
      int32_t result;
      if (e.lpCompletionKey == kTimerKey) {
        result = e.dwNumberOfBytesTransferred == 0 ? 0 : UV_ECANCELED;
      } else if (e.lpCompletionKey == kStuckKey) {
        result = UV_ECANCELED;
      } else if (request->overlapped.Internal == 0 && IsAccept(request->opcode) &&
                 InjectFault(FaultSite::accept_connaborted)) {
        // The connection was reset before AcceptEx took it: WSAECONNRESET (FinishSocket).
        result = TranslateSystemError(WSAECONNRESET);
      } else if (request->overlapped.Internal == 0) {  // STATUS_SUCCESS
        result = static_cast<int32_t>(e.dwNumberOfBytesTransferred);
      } else {
        // The NT status as a Win32 error: GetOverlappedResult converts it without waiting (the
        // request completed) and without touching the handle, which a close through the queue
        // may have closed by now (WSAGetOverlappedResult would say WSAENOTSOCK then).
        DWORD moved = 0;
        DWORD flags = 0;
        if (request->kind == Request::Kind::Socket &&
            !WSAGetOverlappedResult(request->socket, &request->overlapped, &moved, FALSE, &flags) &&
            WSAGetLastError() != WSAENOTSOCK) {
          // Winsock's own code while the socket is open (WSAEMSGSIZE, WSAENOTCONN, ...).
          const int error = WSAGetLastError();
          request->receive_shut = ReceiveShutDown(request->opcode, error);
          result = error == WSAEMSGSIZE && TruncatesDatagram(request->opcode, request->type)
                       ? static_cast<int32_t>(request->buffer.len)
                   : request->receive_shut ? 0
                                           : TranslateSystemError(static_cast<DWORD>(error));
        } else if (GetOverlappedResult(request->handle, &request->overlapped, &moved, FALSE)) {
          result = static_cast<int32_t>(moved);
        } else {
          const DWORD error = GetLastError();
          if (request->kind == Request::Kind::Socket) {
            result = error == ERROR_MORE_DATA && TruncatesDatagram(request->opcode, request->type)
                         ? static_cast<int32_t>(request->buffer.len)
                         : TranslateSystemError(error);
          } else {
            result = error == ERROR_HANDLE_EOF && !request->write ? 0 : TranslateTransferError(error);
          }
        }
      }
      batch.push_back({request, result});
    }
    packets_.fetch_add(n, std::memory_order_relaxed);
    if (!batch.empty()) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        completed_.insert(completed_.end(), batch.begin(), batch.end());
      }
      wakeup().Signal();
    }
    if (stop) return;
  }
}

// ---- starting and cancelling ---------------------------------------------------------------

bool IocpHost::Associate(int fd, HANDLE handle, HANDLE current_port, bool file) {
  if (current_port == port_) return true;
  if (current_port != nullptr) return false;
  // Fails (ERROR_INVALID_PARAMETER) when another port took the handle first.
  if (CreateIoCompletionPort(handle, port_, kTransferKey, 0) == nullptr) return false;
  // A file's transfer that completes at once (a read from the page cache) is then answered at the
  // call, without the round trip through the port and the completion thread. Safe for files: no
  // layered provider sits between (libuv sets it on sockets only when none does), and the pool's
  // calls on the handle wait on their own event. Sockets keep a packet per operation.
  const bool skips = file && SetFileCompletionNotificationModes(handle, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS);
  HandleTable::Process().SetPort(fd, handle, port_, skips);
  return true;
}

Start IocpHost::StartTransfer(uint64_t tag, const Operation& op, int32_t* result) {
  HandleEntry entry;
  // Not a file, or node:fs's synchronous handle (no overlapped I/O on it): Call() on the pool,
  // which gives the error a plain call gives.
  if (!HandleTable::Process().Get(op.fd, &entry) || entry.kind != HandleEntry::Kind::File || !entry.overlapped) {
    return Start::Blocking;
  }
  const bool write = op.opcode == PROACTOR_OP_WRITE;
  if (!Associate(op.fd, entry.handle, entry.port, true)) return Start::Blocking;
  if (entry.port == nullptr) (void)HandleTable::Process().Get(op.fd, &entry);  // associated just now
  auto* request = new (std::nothrow) Request();
  if (request == nullptr) {
    *result = UV_ENOMEM;
    return Start::Done;
  }
  request->tag = tag;
  request->kind = Request::Kind::Transfer;
  request->write = write;
  request->fd = op.fd;
  request->handle = entry.handle;
  if (write && entry.append) {
    request->overlapped.Offset = request->overlapped.OffsetHigh = 0xFFFFFFFF;  // the end of the file
  } else {
    request->overlapped.Offset = static_cast<DWORD>(static_cast<uint64_t>(op.offset));
    request->overlapped.OffsetHigh = static_cast<DWORD>(static_cast<uint64_t>(op.offset) >> 32);
  }
  const DWORD n = std::min<DWORD>(CutForFault(op), kTransferMax);
  request->overlapped.Internal = STATUS_PENDING;  // see PacketFollowsFailure
  const BOOL ok = write ? WriteFile(entry.handle, op.data, n, nullptr, &request->overlapped)
                        : ReadFile(entry.handle, op.data, n, nullptr, &request->overlapped);
  if (!ok) {
    const DWORD error = GetLastError();
    if (error != ERROR_IO_PENDING && !PacketFollowsFailure(request->overlapped)) {
      // Failed before starting: no packet comes.
      delete request;
      *result = error == ERROR_HANDLE_EOF && !write ? 0 : TranslateTransferError(error);
      return Start::Done;
    }
  } else if (entry.skips_port_on_success) {
    // Done at once, and the handle skips the port on success: no packet comes; the bytes are in
    // the OVERLAPPED already (no wait).
    DWORD moved = 0;
    const BOOL got = GetOverlappedResult(entry.handle, &request->overlapped, &moved, FALSE);
    delete request;
    *result = got ? static_cast<int32_t>(moved) : TranslateTransferError(GetLastError());
    return Start::Done;
  }
  // Pending, or done at once on a handle that does not skip the port: one packet comes.
  requests_.emplace(tag, request);
  return Start::Submitted;
}

Start IocpHost::StartSocket(uint64_t tag, const Operation& op, int32_t* result) {
  HandleEntry entry;
  if (!HandleTable::Process().Get(op.fd, &entry)) {
    *result = UV_EBADF;
    return Start::Done;
  }
  if (entry.kind != HandleEntry::Kind::Socket) {
    *result = UV_ENOTSOCK;
    return Start::Done;
  }
  const auto handle = reinterpret_cast<HANDLE>(entry.socket);
  if (!Associate(op.fd, handle, entry.port)) {
    // Another environment's port has it: a socket never waits on the pool.
    *result = UV_EBUSY;
    return Start::Done;
  }
  auto* request = new (std::nothrow) Request(tag, op, entry);
  if (request == nullptr) {
    *result = UV_ENOMEM;
    return Start::Done;
  }
  request->buffer.buf = reinterpret_cast<CHAR*>(op.data);
  // (A recv or send answered short: the count is the answer, as for recv(2) / send(2).)
  request->buffer.len = op.opcode == PROACTOR_OP_RECV || op.opcode == PROACTOR_OP_SEND ? CutForFault(op) : op.len;
  const auto finish = [&](int32_t error) {  // done at once: an error, or 0
    delete request;
    *result = error;
    return Start::Done;
  };
  // A stream socket that never connected: ENOTCONN, as POSIX says (recv, send; EPIPE for a
  // send on Linux), before Winsock says something else.
  const bool transfer =
      op.opcode == PROACTOR_OP_RECV || op.opcode == PROACTOR_OP_SEND || op.opcode == PROACTOR_OP_RECV_MULTI;
  if (transfer && entry.type == SOCK_STREAM && !entry.connected) return finish(UV_ENOTCONN);
  // A send on a datagram socket with no peer: EDESTADDRREQ, as send(2) says (Winsock: WSAENOTCONN,
  // Wine WSAEINVAL).
  if (op.opcode == PROACTOR_OP_SEND && entry.type == SOCK_DGRAM && !entry.connected) return finish(UV_EDESTADDRREQ);
  // A datagram above UDP's limit: EMSGSIZE now, as sendto(2) says it, without a round trip
  // through the port. (Wine fails such a WSASendTo with STATUS_BUFFER_OVERFLOW, a warning whose
  // packet still comes: before PacketFollowsFailure the Request was freed first, and the packet
  // then wrote into freed memory.)
  const bool datagram_send = op.opcode == PROACTOR_OP_SENDTO || (op.opcode == PROACTOR_OP_SEND && entry.type == SOCK_DGRAM);
  if (datagram_send && op.len > (entry.family == AF_INET6 ? kUdp6PayloadMax : kUdp4PayloadMax)) return finish(UV_EMSGSIZE);
  BOOL ok = TRUE;
  int r = 0;
  request->overlapped.Internal = STATUS_PENDING;  // see PacketFollowsFailure
  switch (op.opcode) {
    case PROACTOR_OP_ACCEPT:
    case PROACTOR_OP_ACCEPT_MULTI: {
      // A datagram socket: EOPNOTSUPP, as accept(2) says (Wine: WSAEINVAL).
      if (entry.type != SOCK_STREAM) return finish(UV_ENOTSUP);
      // AcceptEx on a socket that is not listening may wait instead of failing (Wine does):
      // EINVAL now, as accept(2) says it.
      BOOL listening = FALSE;
      int size = sizeof listening;
      if (getsockopt(entry.socket, SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&listening), &size) == 0 &&
          !listening) {
        return finish(UV_EINVAL);
      }
      const int32_t error = ArmAccept(request);
      if (error < 0) return finish(error);
      if (op.opcode == PROACTOR_OP_ACCEPT_MULTI) {
        request->waiting = true;
        // The rest of the group. One that cannot start is left out: the group accepts with fewer,
        // and a lasting cause (EMFILE) meets the leader's next AcceptEx. (Reserved first: a
        // push_back after its AcceptEx went out must not throw.)
        int ahead = AcceptsAhead();
        try {
          request->followers.reserve(static_cast<size_t>(ahead - 1));
        } catch (const std::bad_alloc&) {
          ahead = 1;
        }
        for (int i = 1; i < ahead; i++) {
          auto* follower = new (std::nothrow) Request(tag, op, entry);
          if (follower == nullptr) break;
          follower->leader = request;
          if (ArmAccept(follower) != 0) {
            delete follower;
            break;
          }
          follower->waiting = true;
          request->followers.push_back(follower);
        }
      }
      break;
    }
    case PROACTOR_OP_RECV_MULTI: {
      // Non-blocking, for ReceiveWaiting's calls without an OVERLAPPED (as libuv's TCP and UDP
      // sockets are; overlapped calls are unaffected).
      u_long non_blocking = 1;
      if (ioctlsocket(entry.socket, FIONBIO, &non_blocking) != 0) return finish(SocketError());
      int32_t final_result = 0;
      if (!AwaitData(request, &final_result)) return finish(final_result);
      break;
    }
    case PROACTOR_OP_CONNECT: {
      if (entry.type == SOCK_DGRAM) {
        // A datagram socket's connect only sets its peer and never waits; ConnectEx is for
        // connection-oriented sockets only (Windows fails it on UDP).
        if (connect(entry.socket, reinterpret_cast<const sockaddr*>(&op.address->storage), op.address->length) != 0) {
          return finish(SocketError());
        }
        HandleTable::Process().SetConnected(op.fd, handle);
        return finish(0);
      }
      LPFN_CONNECTEX connect_ex = ConnectExOf(entry.socket);
      if (connect_ex == nullptr) return finish(SocketError());
      // ConnectEx wants a bound socket: the wildcard address of its family, as connect() binds.
      if (!IsBound(entry.socket)) {
        const int error = BindWildcard(entry.socket, entry.family);
        if (error != 0) return finish(TranslateSystemError(static_cast<DWORD>(error)));
      }
      ok = connect_ex(entry.socket, reinterpret_cast<const sockaddr*>(&op.address->storage), op.address->length,
                      nullptr, 0, nullptr, &request->overlapped);
      break;
    }
    case PROACTOR_OP_RECV:
      r = WSARecv(entry.socket, &request->buffer, 1, nullptr, &request->flags, &request->overlapped, nullptr);
      ok = r == 0;
      break;
    case PROACTOR_OP_SEND:
      r = WSASend(entry.socket, &request->buffer, 1, nullptr, 0, &request->overlapped, nullptr);
      ok = r == 0;
      break;
    case PROACTOR_OP_RECVFROM:
      // The address and its length stay in the slot's storage until the final completion.
      r = WSARecvFrom(entry.socket, &request->buffer, 1, nullptr, &request->flags,
                      reinterpret_cast<sockaddr*>(&op.address->storage), &op.address->length, &request->overlapped,
                      nullptr);
      ok = r == 0;
      break;
    case PROACTOR_OP_SENDTO:
      r = WSASendTo(entry.socket, &request->buffer, 1, nullptr, 0,
                    reinterpret_cast<const sockaddr*>(&op.address->storage), op.address->length,
                    &request->overlapped, nullptr);
      ok = r == 0;
      break;
    default:
      return finish(UV_ENOSYS);
  }
  if (!ok) {
    const int error = WSAGetLastError();
    // Otherwise the packet brings the result, as for a call that went pending (a truncated
    // datagram: the bytes that fit).
    if (error != WSA_IO_PENDING && error != ERROR_IO_PENDING && !PacketFollowsFailure(request->overlapped)) {
      if (ReceiveShutDown(op.opcode, error)) {
        if (op.address != nullptr) op.address->length = 0;
        return finish(0);
      }
      return finish(TranslateSystemError(static_cast<DWORD>(error)));
    }
  }
  requests_.emplace(tag, request);
  return Start::Submitted;
}

int32_t IocpHost::ArmAccept(Request* request) {
  request->Reissue();
  if (request->accepted != INVALID_SOCKET) {  // a connection reset before it was taken
    closesocket(request->accepted);
    request->accepted = INVALID_SOCKET;
  }
  // (WSAEMFILE: the process has no socket left for the connection, accept(2)'s EMFILE.)
  if (InjectFault(FaultSite::accept_emfile)) return TranslateSystemError(WSAEMFILE);
  request->accepted =
      WSASocketW(request->family, request->type, 0, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (request->accepted == INVALID_SOCKET) return SocketError();
  DWORD bytes = 0;
  const BOOL ok = AcceptEx(request->socket, request->accepted, request->addresses, 0, kAcceptAddressLength,
                           kAcceptAddressLength, &bytes, &request->overlapped);
  const int error = NoPacketError(ok, request->overlapped);
  return error == 0 ? 0 : TranslateSystemError(static_cast<DWORD>(error));
}

bool IocpHost::AwaitData(Request* request, int32_t* result) {
  // Not null: a zero-length WSABUF with a valid pointer, as libuv's zero reads pass.
  static char no_bytes[1];
  request->Reissue();
  request->buffer.buf = no_bytes;
  request->buffer.len = 0;
  if (request->type != SOCK_STREAM) request->flags = MSG_PEEK;
  const int r = WSARecv(request->socket, &request->buffer, 1, nullptr, &request->flags, &request->overlapped, nullptr);
  const int error = NoPacketError(r == 0, request->overlapped);
  if (error == 0) return true;
  *result = ReceiveShutDown(PROACTOR_OP_RECV_MULTI, error) ? 0 : TranslateSystemError(static_cast<DWORD>(error));
  return false;
}

bool IocpHost::ReceiveWaiting(EngineCore* core, Request* request, int32_t* result) {
  ReceivePool& pool = PoolOf(core);
  const uint16_t slot = TagSlot(request->tag);
  for (int chunk = 0; chunk < kReceiveBurst; chunk++) {
    uint32_t id = 0;
    if (!pool.Take(&id)) {
      *result = UV_ENOBUFS;
      return false;
    }
    WSABUF buffer = {pool.size(), reinterpret_cast<CHAR*>(pool.data(id))};
    DWORD got = 0;
    DWORD flags = 0;
    int32_t n = 0;
    // No OVERLAPPED: a call that returns at once (the socket is non-blocking: StartSocket).
    if (WSARecv(request->socket, &buffer, 1, &got, &flags, nullptr, nullptr) == 0) {
      n = static_cast<int32_t>(got);
    } else {
      const int error = WSAGetLastError();
      if (error == WSAEMSGSIZE && TruncatesDatagram(PROACTOR_OP_RECV_MULTI, request->type)) {
        n = static_cast<int32_t>(pool.size());  // a datagram longer than the buffer: what fits
      } else {
        pool.Give(id);
        if (error == WSAEWOULDBLOCK) return AwaitData(request, result);  // all taken: wait again
        *result = ReceiveShutDown(PROACTOR_OP_RECV_MULTI, error) ? 0 : TranslateSystemError(static_cast<DWORD>(error));
        return false;
      }
    }
    if (n == 0) {
      pool.Give(id);
      if (request->type == SOCK_STREAM) {  // the end of the stream: the final result, 0
        *result = 0;
        return false;
      }
      continue;  // an empty datagram: skipped
    }
    core->PostItem(slot, n, PROACTOR_CQE_F_MORE | PROACTOR_CQE_F_BUFFER, id);
    // Less than a buffer from a stream: nothing more waited (libuv stops there too); the zero-byte
    // read again, without a call that would only say WSAEWOULDBLOCK.
    if (request->type == SOCK_STREAM && static_cast<uint32_t>(n) < pool.size()) return AwaitData(request, result);
  }
  // A burst taken: the zero-byte read again, which completes at once while bytes wait, behind
  // the packets of the other sockets in the port.
  return AwaitData(request, result);
}

bool IocpHost::Multishot(EngineCore* core, Request* request, int32_t* result) {
  // The zero-byte read, recv_multi's only call in the port: data, the end of the stream, or an
  // error (a cancel: ECANCELED).
  if (*result < 0) return false;
  if (request->cancelled) {
    *result = UV_ECANCELED;
    return false;
  }
  return ReceiveWaiting(core, request, result);
}

void IocpHost::RouteAccepts(EngineCore* core, const Operation* op, Request* member, int32_t result) {
  Request* group = member->leader != nullptr ? member->leader : member;
  member->waiting = false;
  if (op != nullptr) {
    int32_t r = result;
    // The new descriptor; UV_ECONNABORTED: reset before it was taken (skipped).
    if (r >= 0 || r == UV_ECONNRESET) r = FinishSocket(member, op, r);
    if (r >= 0) {
      core->PostItem(TagSlot(group->tag), r, PROACTOR_CQE_F_MORE, 0);
    } else if (r != UV_ECONNABORTED) {
      EndAccepts(group, r);  // cancelled, or the listener failed
    }
    if (group->group_result > 0) {  // still accepting: this member's next AcceptEx
      const int32_t error = group->cancelled ? UV_ECANCELED : ArmAccept(member);
      if (error == 0) {
        member->waiting = true;
      } else {
        EndAccepts(group, error);
      }
    }
  } else {
    EndAccepts(group, UV_ECANCELED);  // nobody waits for it any more
  }
  if (group->GroupWaiting()) return;
  const uint64_t tag = group->tag;
  const int32_t final_result = group->group_result;
  requests_.erase(tag);
  delete group;  // and its members; an accepted socket not handed over is closed
  if (op != nullptr) core->Finish(TagSlot(tag), final_result);
}

void IocpHost::EndAccepts(Request* group, int32_t result) {
  if (group->group_result <= 0) return;
  group->group_result = group->cancelled ? UV_ECANCELED : result;
  if (group->waiting) (void)CancelIoEx(group->handle, &group->overlapped);
  group->CancelFollowers();
}

Start IocpHost::StartSendfile(uint64_t tag, const Operation& op, int32_t* result) {
  const auto done = [&](int32_t r) {
    *result = r;
    return Start::Done;
  };
  HandleEntry output;
  HandleEntry input;
  if (!HandleTable::Process().Get(op.fd, &output) || !HandleTable::Process().Get(op.fd_in, &input)) {
    return done(UV_EBADF);
  }
  // Read at a position: a disk file only (a socket input is EINVAL, as sendfile(2) says).
  if (input.kind != HandleEntry::Kind::File) return done(UV_EINVAL);
  if (GetFileType(input.handle) != FILE_TYPE_DISK) return done(UV_ESPIPE);
  if (output.kind == HandleEntry::Kind::File) return Start::Blocking;
  if (output.type != SOCK_STREAM) return done(UV_EINVAL);
  if (!output.connected) return done(UV_ENOTCONN);
  // TransmitFile sends the whole file for a count of 0, and past the end sends nothing: both
  // are decided here, and the count is what the file holds from the position.
  LARGE_INTEGER size;
  if (!GetFileSizeEx(input.handle, &size)) return done(LastError());
  if (op.len == 0 || op.offset >= size.QuadPart) return done(0);
  const auto count = static_cast<DWORD>(std::min<int64_t>(op.len, size.QuadPart - op.offset));
  const auto handle = reinterpret_cast<HANDLE>(output.socket);
  if (!Associate(op.fd, handle, output.port)) return done(UV_EBUSY);
  auto* request = new (std::nothrow) Request(tag, op, output);
  if (request == nullptr) return done(UV_ENOMEM);
  request->overlapped.Offset = static_cast<DWORD>(static_cast<uint64_t>(op.offset));
  request->overlapped.OffsetHigh = static_cast<DWORD>(static_cast<uint64_t>(op.offset) >> 32);
  request->overlapped.Internal = STATUS_PENDING;  // see PacketFollowsFailure
  if (!TransmitFile(output.socket, input.handle, count, 0, &request->overlapped, nullptr, 0)) {
    const int error = WSAGetLastError();
    if (error != WSA_IO_PENDING && error != ERROR_IO_PENDING && !PacketFollowsFailure(request->overlapped)) {
      delete request;
      return done(TranslateSystemError(static_cast<DWORD>(error)));
    }
  }
  requests_.emplace(tag, request);
  return Start::Submitted;
}

bool IocpHost::Connecting(int fd) const {
  for (const auto& entry : requests_) {
    if (entry.second->fd == fd && entry.second->opcode == PROACTOR_OP_CONNECT) return true;
  }
  return false;
}

Start IocpHost::StartPoll(uint64_t tag, const Operation& op, int32_t* result) {
  const auto done = [&](int32_t r) {
    *result = r;
    return Start::Done;
  };
  const uint32_t asked = op.op_flags;
  HandleEntry entry;
  if (!HandleTable::Process().Get(op.fd, &entry)) return done(UV_EBADF);
  // A file is always ready, as poll(2) says of regular files.
  if (entry.kind == HandleEntry::Kind::File) {
    return done(static_cast<int32_t>(asked & (PROACTOR_POLL_IN | PROACTOR_POLL_OUT)));
  }
  // Linux's poll(2) on a stream socket neither connected, connecting nor listening: OUT and HUP
  // at once (AFD would wait). Connected sockets are marked in the table (accepted, or a ConnectEx
  // that completed); a listening one says so through SO_ACCEPTCONN.
  if (entry.type == SOCK_STREAM && !entry.connected && !Connecting(op.fd)) {
    BOOL listening = FALSE;
    int size = sizeof listening;
    if (getsockopt(entry.socket, SOL_SOCKET, SO_ACCEPTCONN, reinterpret_cast<char*>(&listening), &size) != 0) {
      return done(SocketError());
    }
    if (!listening) return done(static_cast<int32_t>((asked & PROACTOR_POLL_OUT) | PROACTOR_POLL_HUP));
  }
  static const auto device_io_control = NtdllFunction<NtDeviceIoControlFileCall>("NtDeviceIoControlFile");
  static const auto status_to_error = NtdllFunction<NtStatusToDosErrorCall>("RtlNtStatusToDosError");
  if (device_io_control == nullptr || status_to_error == nullptr) return done(UV_ENOSYS);
  const auto handle = reinterpret_cast<HANDLE>(entry.socket);
  if (!Associate(op.fd, handle, entry.port)) return done(UV_EBUSY);
  auto* request = new (std::nothrow) Request(tag, op, entry);
  if (request == nullptr) return done(UV_ENOMEM);
  // Linux reports POLL_OUT on a socket whose writing side is shut down (AFD does not): known now,
  // so AFD only takes a snapshot of the rest (timeout 0) when that is asked for.
  if (entry.write_shut) request->poll_known = PROACTOR_POLL_OUT;
  ULONG wanted = kAfdPollAbort | kAfdPollConnectFail;
  if (asked & PROACTOR_POLL_IN) wanted |= kAfdPollReceive | kAfdPollReceiveExpedited | kAfdPollAccept | kAfdPollDisconnect;
  if (asked & PROACTOR_POLL_RDHUP) wanted |= kAfdPollDisconnect;
  if (asked & PROACTOR_POLL_OUT) wanted |= kAfdPollSend;
  request->poll.timeout.QuadPart = (request->poll_known & asked) != 0 ? 0 : INT64_MAX;
  request->poll.count = 1;
  request->poll.exclusive = FALSE;
  request->poll.handles[0].handle = handle;
  request->poll.handles[0].events = wanted;
  request->poll.handles[0].status = 0;
  request->overlapped.Internal = STATUS_PENDING;
  // The OVERLAPPED is the status block and the packet's context (the socket is in the port).
  const LONG status = device_io_control(handle, nullptr, nullptr, &request->overlapped, &request->overlapped,
                                        kIoctlAfdPoll, &request->poll, sizeof request->poll, &request->poll,
                                        sizeof request->poll);
  if (status < 0 && static_cast<uint32_t>(status) >> 30 == 3) {  // an NT error: no packet comes
    delete request;
    return done(TranslateSystemError(status_to_error(status)));
  }
  requests_.emplace(tag, request);
  return Start::Submitted;
}

int32_t IocpHost::FinishSocket(Request* request, const Operation* op, int32_t result) {
  // AcceptEx fails with WSAECONNRESET (ERROR_NETNAME_DELETED) when the connection was reset
  // before it took it: the listener is fine, and the accept starts again, as libuv's does and as
  // the engine core does for accept(2)'s ECONNABORTED. (The Request closes the socket.)
  if (IsAccept(request->opcode) && result == UV_ECONNRESET) return UV_ECONNABORTED;
  if (result < 0 && request->ended_by_shutdown) {
    request->receive_shut = true;
    result = 0;
  }
  if (result < 0) return result;
  if (request->receive_shut && op->address != nullptr) op->address->length = 0;
  if (request->opcode == PROACTOR_OP_POLL) {
    HandleEntry entry;
    const bool write_shut = HandleTable::Process().Get(request->fd, &entry) && entry.write_shut;
    const uint32_t afd = request->poll.count > 0 ? PollEventsOf(request->poll.handles[0].events, write_shut) : 0;
    const uint32_t events = (afd | request->poll_known) & (op->op_flags | PROACTOR_POLL_ERR | PROACTOR_POLL_HUP);
    return static_cast<int32_t>(events);
  }
  if (request->opcode == PROACTOR_OP_CONNECT) {
    (void)setsockopt(request->socket, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0);
    HandleTable::Process().SetConnected(request->fd, request->handle);
    return 0;
  }
  if (!IsAccept(request->opcode)) return result;
  // Inherit the listener's properties, so getpeername, shutdown and the rest work on it.
  if (setsockopt(request->accepted, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
                 reinterpret_cast<const char*>(&request->socket), sizeof request->socket) != 0) {
    return SocketError();
  }
  sockaddr* local = nullptr;
  sockaddr* remote = nullptr;
  int local_length = 0;
  int remote_length = 0;
  GetAcceptExSockaddrs(request->addresses, 0, kAcceptAddressLength, kAcceptAddressLength, &local, &local_length,
                       &remote, &remote_length);
  if (op->address != nullptr) {
    std::memset(&op->address->storage, 0, sizeof op->address->storage);
    const int n = remote != nullptr && remote_length > 0
                      ? std::min<int>(remote_length, static_cast<int>(sizeof op->address->storage))
                      : 0;
    if (n > 0) std::memcpy(&op->address->storage, remote, static_cast<size_t>(n));
    op->address->length = n;
  }
  HandleEntry entry;
  entry.kind = HandleEntry::Kind::Socket;
  entry.socket = request->accepted;
  entry.family = request->family;
  entry.type = request->type;
  entry.connected = true;
  const int fd = HandleTable::Process().Insert(entry);
  if (fd < 0) return fd;  // the Request's destructor closes the socket
  request->accepted = INVALID_SOCKET;
  return fd;
}

void CALLBACK IocpHost::OnTimer(PTP_CALLBACK_INSTANCE /*instance*/, void* context, PTP_TIMER /*timer*/) {
  auto* request = static_cast<Request*>(context);
  int armed = 0;
  if (request->timer_state.compare_exchange_strong(armed, 1)) {
    (void)PostQueuedCompletionStatus(request->port, 0, kTimerKey, &request->overlapped);
  }
}

Start IocpHost::StartTimer(uint64_t tag, uint64_t timeout_ns, int32_t* result) {
  auto* request = new (std::nothrow) Request();
  if (request == nullptr) {
    *result = UV_ENOMEM;
    return Start::Done;
  }
  request->tag = tag;
  request->kind = Request::Kind::Timer;
  request->port = port_;
  request->timer = CreateThreadpoolTimer(&IocpHost::OnTimer, request, nullptr);
  if (request->timer == nullptr) {
    *result = LastError();
    delete request;
    return Start::Done;
  }
  // A relative due time is negative, in 100 ns units (at least one: 0 would be absolute).
  const uint64_t ticks = std::max<uint64_t>(1, std::min<uint64_t>(timeout_ns / 100, INT64_MAX));
  ULARGE_INTEGER due;
  due.QuadPart = static_cast<ULONGLONG>(-static_cast<int64_t>(ticks));
  FILETIME when;
  when.dwLowDateTime = due.LowPart;
  when.dwHighDateTime = due.HighPart;
  requests_.emplace(tag, request);
  SetThreadpoolTimer(request->timer, &when, 0, 0);
  return Start::Submitted;
}

Start IocpHost::StartStuckSend(uint64_t tag, const Operation& op, int32_t* result) {
  auto* request = new (std::nothrow) Request();
  if (request == nullptr) {
    *result = UV_ENOMEM;
    return Start::Done;
  }
  request->tag = tag;
  request->kind = Request::Kind::StuckSend;
  request->opcode = op.opcode;
  request->fd = op.fd;
  requests_.emplace(tag, request);
  return Start::Submitted;
}

void IocpHost::CancelRequest(Request* request) {
  request->cancelled = true;
  if (request->kind == Request::Kind::StuckSend) {
    // Never given to Winsock: its one packet is posted here, once.
    int armed = 0;
    if (request->timer_state.compare_exchange_strong(armed, 2)) {
      (void)PostQueuedCompletionStatus(port_, 0, kStuckKey, &request->overlapped);
    }
    return;
  }
  if (request->kind != Request::Kind::Timer) {
    // ERROR_NOT_FOUND: it completed already, and its packet is on the way.
    (void)CancelIoEx(request->handle, &request->overlapped);
    request->CancelFollowers();  // an accepts()' other AcceptEx calls
    return;
  }
  int armed = 0;
  if (request->timer_state.compare_exchange_strong(armed, 2)) {
    SetThreadpoolTimer(request->timer, nullptr, 0, 0);
    (void)PostQueuedCompletionStatus(port_, 1, kTimerKey, &request->overlapped);
  }
}

void IocpHost::Cancel(uint64_t tag) {
  auto it = requests_.find(tag);
  if (it != requests_.end()) CancelRequest(it->second);
}

void IocpHost::CancelDescriptor(int fd) {
  for (auto& entry : requests_) {
    if (entry.second->fd == fd) CancelRequest(entry.second);
  }
}

void IocpHost::EndReceives(int fd) {
  for (auto& entry : requests_) {
    Request* request = entry.second;
    if (request->fd != fd || request->kind != Request::Kind::Socket) continue;
    if (request->opcode != PROACTOR_OP_RECV && request->opcode != PROACTOR_OP_RECVFROM &&
        request->opcode != PROACTOR_OP_RECV_MULTI) {
      continue;
    }
    request->ended_by_shutdown = true;
    CancelRequest(request);
  }
}

// ---- results -------------------------------------------------------------------------------

void IocpHost::ReapMechanism() {
  std::vector<Completed> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.swap(completed_);
  }
  for (const Completed& c : batch) Route(c);
}

void IocpHost::Route(const Completed& c) {
  const uint64_t tag = c.request->tag;
  EngineCore* core = engine(TagEngine(tag));
  const Operation* op = core != nullptr ? core->Active(tag) : nullptr;
  int32_t result = c.result;
  if (c.request->kind == Request::Kind::Socket && c.request->opcode == PROACTOR_OP_ACCEPT_MULTI) {
    RouteAccepts(core, op, c.request, result);
    return;
  }
  // A multishot request in the port again: its Request lives on.
  if (op != nullptr && c.request->kind == Request::Kind::Socket && c.request->opcode == PROACTOR_OP_RECV_MULTI &&
      Multishot(core, c.request, &result)) {
    return;
  }
  std::unique_ptr<Request> request(c.request);
  requests_.erase(tag);
  // Nobody waits for it any more (its queue went away): an accepted socket is closed with the
  // Request.
  if (op == nullptr) return;
  if (request->kind == Request::Kind::Socket) result = FinishSocket(request.get(), op, result);
  request.reset();
  core->Finish(TagSlot(tag), result);
}

int IocpHost::Wait(int64_t timeout_ns) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!completed_.empty()) return 0;
  }
  if (pool().HasResults()) return 0;
  if (InjectFault(FaultSite::poller_wakeup_spurious)) return 0;  // woken with nothing to report
  // The event is auto-reset and set by every Signal(): a result that arrives after the checks
  // above sets it, so the wait cannot miss it (an earlier set only ends it early).
  DWORD ms = INFINITE;
  if (timeout_ns >= 0) {
    ms = static_cast<DWORD>(std::min<int64_t>((timeout_ns + 999999) / 1000000, INFINITE - 1));
  }
  const DWORD r = WaitForSingleObject(wakeup().event(), ms);
  if (r == WAIT_TIMEOUT) return UV_ETIMEDOUT;
  return r == WAIT_FAILED ? LastError() : 0;
}

// ---- teardown ------------------------------------------------------------------------------

void IocpHost::CancelAndDrain() {
  for (auto& entry : requests_) CancelRequest(entry.second);
  const auto give_up = std::chrono::steady_clock::now() + kDrainLimit;
  while (!requests_.empty() && std::chrono::steady_clock::now() < give_up) {
    ReapMechanism();
    if (requests_.empty()) break;
    (void)WaitForSingleObject(wakeup().event(), 100);
  }
  StopThread();
  ReapMechanism();
}

void IocpHost::StopThread() {
  if (!thread_.joinable()) return;
  if (PostQueuedCompletionStatus(port_, 0, kStopKey, nullptr)) {
    thread_.join();
  } else {
    thread_.detach();  // cannot happen with a valid port; never block teardown on it
  }
}

void IocpHost::CloseMechanism() {
  StopThread();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Completed& c : completed_) {
      // An accepts()' group is left allocated, as requests still in the port are below: another
      // of its members may still be there.
      if (c.request->leader != nullptr || !c.request->followers.empty()) continue;
      requests_.erase(c.request->tag);
      delete c.request;
    }
    completed_.clear();
  }
  // Requests still in the port after the drain limit stay allocated: the kernel may still
  // write into them.
  requests_.clear();
  if (port_ != nullptr) CloseHandle(port_);
  port_ = nullptr;
}

}  // namespace proactor
