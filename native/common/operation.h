/*
 * Each proactor operation defined once: what it is (OperationInfo, one table indexed by opcode),
 * the submission entry decoded into an Operation with its resources resolved (Decode), and its
 * plain system-call implementation (Call, in calls_posix.cc; a Windows half slots in beside it).
 *
 * Engines build on these: a kernel mechanism translates an Operation into its own request (an
 * io_uring SQE, an overlapped call), and every engine's blocking pool runs Call(Operation), so a
 * system call is written once whichever engine falls back to it.
 *
 * Contracts:
 * - Decode reads the entry and the operation's resources (the queue's resource table, the slot's
 *   address record) and keeps what must outlive the JS call (path copies, the buffer list, the
 *   sockaddr, the stat result) in the slot's OperationStorage; the Operation points into it and
 *   into JS-owned buffers (which do not move, see queue_buffers.h). Both stay valid until the
 *   slot's final completion.
 * - Decode validates the ABI-level arguments (a known family, socket type, shutdown direction,
 *   socket option; a buffer range inside its buffer); platform mapping cannot fail afterwards
 *   except where a platform lacks a feature (Call says so with its error).
 * - Results are >= 0 or a negative libuv error code (on POSIX: -errno).
 */
#ifndef PROACTOR_COMMON_OPERATION_H
#define PROACTOR_COMMON_OPERATION_H

#include <node_api.h>

#include <cstdint>
#include <memory>
#include <string>

#include "fault_schedule.h"
#include "platform.h"
#include "proactor/abi.h"

namespace proactor {

class QueueBuffers;

/* What an operation needs from an engine, as bits of OperationInfo::traits. */
enum OperationTrait : uint16_t {
  /* May wait on its descriptor for as long as the peer likes: closing the descriptor through
   * the queue ends it with UV_ECANCELED (engines count these per descriptor). */
  kWaitsOnDescriptor = 1u << 0,
  /* Moves `expected` bytes: a shorter result breaks a linked chain. */
  kTransfer = 1u << 1,
  /* Writes the slot's address record on success (from Operation::address). */
  kFillsAddress = 1u << 2,
  /* Never waits: may run as a plain system call when it is launched (socket, bind, ...). */
  kRunsAtLaunch = 1u << 3,
  /* A socket operation: never run on a blocking pool (a blocking accept or recv would hold a
   * thread for as long as its peer likes). */
  kSocket = 1u << 4,
  /* Writes the slot's stat record on success (from Operation::stat). */
  kFillsStat = 1u << 5,
  /* One request, many completions (PROACTOR_CQE_F_MORE). */
  kMultishot = 1u << 6,
};

struct OperationInfo {
  const char* name;    /* aio-core's Opcode key, lower case ("recv_multi") */
  const char* syscall; /* the system call Call() makes ("openat", "recvfrom") */
  uint16_t traits;     /* OperationTrait bits */
};

/* Indexed by proactor_opcode; PROACTOR_OP_COUNT entries. */
extern const OperationInfo kOperations[PROACTOR_OP_COUNT];

inline bool HasTrait(uint8_t opcode, OperationTrait trait) {
  return opcode < PROACTOR_OP_COUNT && (kOperations[opcode].traits & trait) != 0;
}

/* An entry decoded, its resources resolved. Fields an opcode does not use are zero. */
struct Operation {
  uint8_t opcode = PROACTOR_OP_NOP;
  uint32_t op_flags = 0;   /* the entry's per-opcode flags: PROACTOR_*_F_*, _AF_*, _SHUT_*, _SO_*, _POLL_* */
  int32_t fd = -1;
  int32_t fd_in = -1;      /* sendfile: the input (fd is the output) */
  int64_t offset = 0;      /* file position (-1: the current one); ftruncate: the new length */
  uint8_t* data = nullptr; /* read, write, recv, send, recvfrom, sendto: the bytes */
  uint32_t len = 0;        /* their length; listen: the backlog; setsockopt: the value (0 or 1);
                              sendfile: the bytes asked for */
  IoVec* iov = nullptr;    /* readv, writev */
  uint32_t iov_count = 0;
  const char* path = nullptr; /* open, stat, unlink, mkdir, rename (from) */
  const char* path2 = nullptr; /* rename (to) */
  uint32_t mode = 0;       /* open, mkdir: permission bits; socket: PROACTOR_SOCK_* type */
  uint64_t timeout_ns = 0;
  /* bind, connect, sendto: the address to use; accept, getsockname, recvfrom: where the address
   * goes (length in/out). */
  SocketAddress* address = nullptr;
  StatBuffer* stat = nullptr; /* stat, fstat: the result */
  uint64_t expected = 0;      /* kTransfer: the bytes asked for */
};

/* What a slot keeps for its operation until the final completion (allocated on first use and
 * reused by later operations of the slot). */
struct OperationStorage {
  std::string path;
  std::string path2;
  std::unique_ptr<IoVec[]> iov;
  uint32_t iov_capacity = 0;
  std::unique_ptr<StatBuffer> stat;
  std::unique_ptr<SocketAddress> address;
};

/*
 * Decodes entry `e` (its resources from the queue's resource table and address area) into
 * `*op`. 0, or a negative libuv error code: UV_EINVAL for a missing or malformed resource or
 * argument, UV_EAFNOSUPPORT for an unknown family, UV_ENOPROTOOPT for an unknown socket option,
 * UV_ENOMEM.
 */
int Decode(napi_env env, napi_value resources, const QueueBuffers& buffers, const proactor_sqe& e,
           OperationStorage& storage, Operation* op);

/*
 * Runs `op` as the plain, blocking system call (calls_posix.cc). The result the operation
 * completes with: >= 0, or a negative libuv error code. Stat and address results are left in
 * op.stat / op.address. Timeouts and multishot operations are the engine's (UV_ENOSYS here):
 * neither is a single system call.
 */
int64_t Call(const Operation& op);

/*
 * Whether a READ, WRITE, READV or WRITEV `op` that moved `moved` bytes, fewer than asked, is
 * continued by the engine until all were moved, end of file or an error (EngineCore::Continue).
 * True for regular files and block devices, whose short transfers io_uring itself completes in full in the kernel
 * and libuv's write loop completes too (so a short read means end of file, which readFile loops
 * and linked chains rely on, and a write is all done or reports what its error left done) -
 * except a read that reached the end of the file (its short count is the answer, found without a
 * second read). False for pipes, sockets and terminals, where a short count is the answer
 * (continuing could wait for data that never comes). Asked only when a transfer came back short:
 * one statx or fstat (and an lseek for a read at the current position).
 */
bool ContinuesShortTransfer(const Operation& op, uint32_t moved);

/* Whether `fd` is open on a socket (Linux: statx, as glibc's fstat symbol is 2.33, newer than the
 * addons' floor; Windows: the handle table). */
bool IsSocketDescriptor(int fd);

/*
 * A descriptor an accept returned, or, in fault-injection builds when an accept site fires, the
 * error that accept pretends it got (the descriptor closed): ECONNABORTED (a connection that went
 * away; EngineCore accepts again), EMFILE or ENFILE (what the user sees). A multishot accept's
 * connection is only ever aborted (dropped, as the kernel drops one that went away). Without
 * fault injection: `fd`.
 */
#ifdef PROACTOR_FAULTS
int32_t AcceptedOrFault(int32_t fd, bool multishot);
#else
inline int32_t AcceptedOrFault(int32_t fd, bool /*multishot*/) { return fd; }
#endif

/* The bytes a READ, WRITE, READV or WRITEV still has to move: op.len, or its vectors' sum. */
uint64_t TransferLeft(const Operation& op);
/* Moves such a transfer past `moved` bytes (fewer than TransferLeft): its data or vectors (the
 * first vectors left out, the next one shortened: they are the slot's OperationStorage) and its
 * position, so that launching it again moves the rest. */
void SkipTransferred(Operation* op, uint32_t moved);

/* Whether `fd` is open with O_DIRECT (Linux; false elsewhere): one fcntl. */
inline bool OpenWithDirect(int fd) {
#if defined(__linux__) && defined(O_DIRECT)
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & O_DIRECT) != 0;
#else
  (void)fd;
  return false;
#endif
}

/* The length a READ / WRITE / RECV / SEND submits: op.len, or, in fault-injection builds when
 * `site` fires, half of it (the kernel answering short, as it may); on a direct descriptor a
 * multiple of 4096, none when that leaves nothing.
 *
 * A cut of a direct transfer must be one the kernel could answer: it refuses a misaligned direct
 * transfer whole (EINVAL on block file systems) and ends an aligned one short only at an aligned
 * length, so a direct transfer is cut only when its position, length and buffer address (a
 * vectored one's every buffer and length) are multiples of 4096, and then at a multiple of 4096.
 * (At a misaligned position the kernel here refused a 49152-byte direct read whole (EINVAL) yet
 * answered its cut halves: a cut there changed the answer; poll(2) fault run, seed 34925.) (A cut
 * of a misaligned one could turn the kernel's EINVAL into a short success: the first piece
 * aligned, the refusal left to the rest.) The buffer's address too: a read into a buffer one
 * byte past a page, at an aligned position and length, was refused whole (EINVAL) yet its cut
 * halves were answered, 36864 bytes (poll(2) fault run, seed 82628; likely the kernel checks the
 * memory's alignment only where it maps blocks, and answers a hole or the end of the file
 * without it). */
inline uint32_t CutForFault(const Operation& op, FaultSite site) {
  if (!kFaultsCompiledIn || op.len < 2) return op.len;
  constexpr uint32_t kBlock = 4096;
  uint32_t cut = op.len / 2;
  if (!HasTrait(op.opcode, kSocket) && OpenWithDirect(op.fd)) {
    const uintptr_t address = reinterpret_cast<uintptr_t>(op.data);
    if (op.len % kBlock != 0 || op.len < 2 * kBlock || op.offset < 0 || op.offset % kBlock != 0 ||
        address % kBlock != 0) {
      return op.len;
    }
    cut &= ~(kBlock - 1);
  }
  return InjectFault(site) ? cut : op.len;
}

/* The same at the site of the operation's kind: short_socket_transfer or short_file_transfer. */
inline uint32_t CutForFault(const Operation& op) {
  return CutForFault(op, HasTrait(op.opcode, kSocket) ? FaultSite::short_socket_transfer : FaultSite::short_file_transfer);
}

/* The vectors a READV / WRITEV submits: op.iov_count, or, in fault-injection builds when `site`
 * (short_file_transfer unless named) fires, the first half of them (a vectored call answered
 * short); on a direct descriptor only when every buffer and length is a multiple of 4096. */
inline uint32_t CutVectorsForFault(const Operation& op, FaultSite site = FaultSite::short_file_transfer) {
  if (!kFaultsCompiledIn || op.iov_count < 2) return op.iov_count;
#if defined(__linux__)
  if (OpenWithDirect(op.fd)) {
    if (op.offset < 0 || op.offset % 4096 != 0) return op.iov_count;
    for (uint32_t i = 0; i < op.iov_count; i++) {
      if ((reinterpret_cast<uintptr_t>(op.iov[i].iov_base) | op.iov[i].iov_len) % 4096 != 0) return op.iov_count;
    }
  }
#endif
  return InjectFault(site) ? op.iov_count / 2 : op.iov_count;
}

}  // namespace proactor

#endif  // PROACTOR_COMMON_OPERATION_H
