#include "operation.h"

#include <uv.h>

#include <cstring>
#include <new>

#include "queue_buffers.h"
#include "resource_views.h"
#include "socket_address.h"
#include "socket_options.h"

namespace proactor {

namespace {

constexpr uint16_t kSocketWaits = kSocket | kWaitsOnDescriptor;

}  // namespace

const OperationInfo kOperations[PROACTOR_OP_COUNT] = {
    /* PROACTOR_OP_NOP */ {"nop", "nop", 0},
    /* PROACTOR_OP_OPEN */ {"open", "openat", 0},
    /* PROACTOR_OP_CLOSE */ {"close", "close", 0},
    /* PROACTOR_OP_READ */ {"read", "read", kTransfer},
    /* PROACTOR_OP_WRITE */ {"write", "write", kTransfer},
    /* PROACTOR_OP_READV */ {"readv", "readv", kTransfer},
    /* PROACTOR_OP_WRITEV */ {"writev", "writev", kTransfer},
    /* PROACTOR_OP_FSYNC */ {"fsync", "fsync", 0},
    /* PROACTOR_OP_FDATASYNC */ {"fdatasync", "fdatasync", 0},
    /* PROACTOR_OP_STAT */ {"stat", "statx", kFillsStat},
    /* PROACTOR_OP_FSTAT */ {"fstat", "statx", kFillsStat},
    /* PROACTOR_OP_UNLINK */ {"unlink", "unlinkat", 0},
    /* PROACTOR_OP_RENAME */ {"rename", "renameat", 0},
    /* PROACTOR_OP_MKDIR */ {"mkdir", "mkdirat", 0},
    /* PROACTOR_OP_FTRUNCATE */ {"ftruncate", "ftruncate", 0},
    /* PROACTOR_OP_TIMEOUT */ {"timeout", "timeout", 0},
    /* PROACTOR_OP_CANCEL */ {"cancel", "cancel", 0},
    /* PROACTOR_OP_SOCKET */ {"socket", "socket", kSocket | kRunsAtLaunch},
    /* PROACTOR_OP_BIND */ {"bind", "bind", kSocket | kRunsAtLaunch},
    /* PROACTOR_OP_LISTEN */ {"listen", "listen", kSocket | kRunsAtLaunch},
    /* PROACTOR_OP_ACCEPT */ {"accept", "accept", kSocketWaits | kFillsAddress},
    /* PROACTOR_OP_CONNECT */ {"connect", "connect", kSocketWaits},
    /* PROACTOR_OP_RECV */ {"recv", "recv", kSocketWaits | kTransfer},
    /* PROACTOR_OP_SEND */ {"send", "send", kSocketWaits | kTransfer},
    /* PROACTOR_OP_SHUTDOWN */ {"shutdown", "shutdown", kSocket | kRunsAtLaunch},
    /* PROACTOR_OP_SETSOCKOPT */ {"setsockopt", "setsockopt", kSocket | kRunsAtLaunch},
    /* PROACTOR_OP_GETSOCKNAME */ {"getsockname", "getsockname", kSocket | kRunsAtLaunch | kFillsAddress},
    /* PROACTOR_OP_RECVFROM */ {"recvfrom", "recvfrom", kSocketWaits | kTransfer | kFillsAddress},
    /* PROACTOR_OP_SENDTO */ {"sendto", "sendto", kSocketWaits | kTransfer},
    /* PROACTOR_OP_POLL */ {"poll", "poll", kSocketWaits},
    /* PROACTOR_OP_ACCEPT_MULTI */ {"accept_multi", "accept", kSocketWaits | kMultishot},
    /* PROACTOR_OP_RECV_MULTI */ {"recv_multi", "recv", kSocketWaits | kMultishot},
    /* Waits on its output (fd) for as long as a slow reader likes; not kSocket: the output may be
     * a regular file, and a blocking pool runs it on engines without an in-kernel path. */
    /* PROACTOR_OP_SENDFILE */ {"sendfile", "sendfile", kWaitsOnDescriptor | kTransfer},
};

int Decode(napi_env env, napi_value resources, const QueueBuffers& buffers, const proactor_sqe& e,
           OperationStorage& storage, Operation* op) {
  auto resource = [&](uint32_t k) -> napi_value {
    napi_value value = nullptr;
    if (napi_get_element(env, resources, 2 * e.slot + k, &value) != napi_ok) return nullptr;
    return value;
  };
  auto path = [&](uint32_t k, std::string* out) -> bool {
    napi_value value = resource(k);
    return value != nullptr && CopyPath(env, value, out);
  };
  /* The bytes [buf_offset, buf_offset + len) of resource 0. */
  auto bytes = [&]() -> bool {
    napi_value value = resource(0);
    ByteSpan span;
    if (value == nullptr || !GetByteSpan(env, value, &span)) return false;
    if (e.buf_offset > span.length || e.len > span.length - e.buf_offset) return false;
    op->data = span.data + e.buf_offset;
    op->len = e.len;
    op->expected = e.len;
    return true;
  };
  auto address = [&]() -> SocketAddress* {
    if (!storage.address) storage.address.reset(new (std::nothrow) SocketAddress{});
    op->address = storage.address.get();
    return op->address;
  };
  /* An address to be filled: the whole storage is offered. */
  auto empty_address = [&]() -> bool {
    SocketAddress* a = address();
    if (a == nullptr) return false;
    std::memset(&a->storage, 0, sizeof a->storage);
    a->length = sizeof a->storage;
    return true;
  };

  *op = Operation{};
  op->opcode = e.opcode;
  op->op_flags = e.op_flags;
  op->fd = e.fd;
  op->offset = e.offset;
  op->mode = e.mode;
  op->timeout_ns = e.timeout_ns;
  switch (e.opcode) {
    case PROACTOR_OP_NOP:
    case PROACTOR_OP_CLOSE:
    case PROACTOR_OP_FSYNC:
    case PROACTOR_OP_FDATASYNC:
    case PROACTOR_OP_TIMEOUT:
    case PROACTOR_OP_ACCEPT_MULTI:
    case PROACTOR_OP_RECV_MULTI:
      return 0;
    case PROACTOR_OP_POLL:
      // The portable events asked for; each engine maps them (poll(2) bits, kqueue filters).
      op->op_flags = e.op_flags & (PROACTOR_POLL_IN | PROACTOR_POLL_OUT | PROACTOR_POLL_RDHUP);
      return 0;
    case PROACTOR_OP_OPEN:
    case PROACTOR_OP_UNLINK:
    case PROACTOR_OP_MKDIR:
      if (!path(0, &storage.path)) return UV_EINVAL;
      op->path = storage.path.c_str();
      return 0;
    case PROACTOR_OP_RENAME:
      if (!path(0, &storage.path) || !path(1, &storage.path2)) return UV_EINVAL;
      op->path = storage.path.c_str();
      op->path2 = storage.path2.c_str();
      return 0;
    case PROACTOR_OP_READ:
    case PROACTOR_OP_WRITE:
    case PROACTOR_OP_RECV:
    case PROACTOR_OP_SEND:
      return bytes() ? 0 : UV_EINVAL;
    case PROACTOR_OP_READV:
    case PROACTOR_OP_WRITEV: {
      if (e.len > PROACTOR_IOV_MAX) return UV_EINVAL;
      if (storage.iov_capacity < e.len) {
        storage.iov.reset(new (std::nothrow) IoVec[e.len]);
        storage.iov_capacity = storage.iov ? e.len : 0;
        if (!storage.iov) return UV_ENOMEM;
      }
      napi_value list = resource(0);
      size_t total = 0;
      if (list == nullptr || !GetIovecs(env, list, e.len, storage.iov.get(), &total)) return UV_EINVAL;
      op->iov = storage.iov.get();
      op->iov_count = e.len;
      op->expected = total;
      return 0;
    }
    case PROACTOR_OP_STAT:
    case PROACTOR_OP_FSTAT:
      if (!storage.stat) {
        storage.stat.reset(new (std::nothrow) StatBuffer);
        if (!storage.stat) return UV_ENOMEM;
      }
      op->stat = storage.stat.get();
      if (e.opcode == PROACTOR_OP_STAT) {
        if (!path(0, &storage.path)) return UV_EINVAL;
        op->path = storage.path.c_str();
      }
      return 0;
    case PROACTOR_OP_FTRUNCATE:
      return e.offset < 0 ? UV_EINVAL : 0;
    case PROACTOR_OP_SOCKET:
      if (e.op_flags != PROACTOR_AF_UNIX && e.op_flags != PROACTOR_AF_INET && e.op_flags != PROACTOR_AF_INET6) {
        return UV_EAFNOSUPPORT;
      }
      return e.mode == PROACTOR_SOCK_STREAM || e.mode == PROACTOR_SOCK_DGRAM ? 0 : UV_EINVAL;
    case PROACTOR_OP_BIND:
    case PROACTOR_OP_CONNECT: {
      SocketAddress* a = address();
      if (a == nullptr) return UV_ENOMEM;
      return DecodeAddressRecord(buffers.AddressRecord(e.slot), a);
    }
    case PROACTOR_OP_LISTEN:
      if (e.len > 0x7fffffffu) return UV_EINVAL;
      op->len = e.len;
      return 0;
    case PROACTOR_OP_ACCEPT:
    case PROACTOR_OP_GETSOCKNAME:
      return empty_address() ? 0 : UV_ENOMEM;
    case PROACTOR_OP_RECVFROM:
      if (!bytes()) return UV_EINVAL;
      return empty_address() ? 0 : UV_ENOMEM;
    case PROACTOR_OP_SENDTO: {
      if (!bytes()) return UV_EINVAL;
      SocketAddress* a = address();
      if (a == nullptr) return UV_ENOMEM;
      return DecodeAddressRecord(buffers.AddressRecord(e.slot), a);
    }
    case PROACTOR_OP_SHUTDOWN:
      return e.op_flags == PROACTOR_SHUT_RD || e.op_flags == PROACTOR_SHUT_WR || e.op_flags == PROACTOR_SHUT_RDWR
                 ? 0
                 : UV_EINVAL;
    case PROACTOR_OP_SETSOCKOPT:
      if (!IsSocketOption(e.op_flags)) return UV_ENOPROTOOPT;
      op->len = e.len != 0 ? 1 : 0;
      return 0;
    case PROACTOR_OP_SENDFILE:
      // An explicit position always: the input's own position never moves.
      if (e.offset < 0 || e.len > 0x7fffffffu) return UV_EINVAL;
      op->fd_in = e.fd_in;
      op->len = e.len;
      op->expected = e.len;
      return 0;
    default:
      return UV_EINVAL;
  }
}

uint64_t TransferLeft(const Operation& op) {
  if (op.opcode != PROACTOR_OP_READV && op.opcode != PROACTOR_OP_WRITEV) return op.len;
  uint64_t left = 0;
  for (uint32_t i = 0; i < op.iov_count; i++) left += IoVecLength(op.iov[i]);
  return left;
}

void SkipTransferred(Operation* op, uint32_t moved) {
  if (op->offset >= 0) op->offset += moved;
  if (op->opcode != PROACTOR_OP_READV && op->opcode != PROACTOR_OP_WRITEV) {
    op->data += moved;
    op->len -= moved;
    return;
  }
  size_t rest = moved;
  while (op->iov_count > 0 && rest >= IoVecLength(op->iov[0])) {
    rest -= IoVecLength(op->iov[0]);
    op->iov++;
    op->iov_count--;
  }
  if (rest > 0) SetIoVec(&op->iov[0], IoVecData(op->iov[0]) + rest, IoVecLength(op->iov[0]) - rest);
}

}  // namespace proactor
