/*
 * Call(): each operation as plain, blocking Win32 / Winsock calls (see ../operation.h). What the
 * IOCP engine's blocking pool runs for calls with no overlapped form (open, stat, fsync, rename,
 * ...), and what it runs at launch for calls that never wait (socket, bind, listen, ...).
 *
 * Descriptors are indexes into the process's HandleTable (handle_table.h). Files are opened the
 * way libuv opens them for Node (src/win/fs.c, fs__open: Node's O_* flags to access, sharing,
 * disposition and attributes), always with FILE_FLAG_OVERLAPPED so the IOCP engine can read and
 * write them through its port; a read or write here then waits on a per-thread event whose low
 * bit is set, which keeps its completion off the port. Sockets are made overlapped and not
 * inherited (WSA_FLAG_NO_HANDLE_INHERIT), as libuv makes them.
 *
 * Errors: TranslateSystemError (error_table.h), once, at the end of each call.
 */
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "../operation.h"
#include "../readiness.h"
#include "../socket_address.h"
#include "../socket_options.h"
#include "../stat_record.h"
#include "error_table.h"
#include "handle_table.h"

#include <mswsock.h>
#include <uv.h>

namespace proactor {

namespace {

/* 100 ns intervals between 1601-01-01 (FILETIME) and 1970-01-01. */
constexpr int64_t kUnixEpochTicks = 116444736000000000LL;

int64_t SocketError() { return TranslateSystemError(static_cast<DWORD>(WSAGetLastError())); }

/* UTF-8 to UTF-16 for the W calls; false for bytes that are not UTF-8 (ECHARSET, as libuv). */
bool WidePath(const char* path, std::wstring* out) {
  const int length = static_cast<int>(std::strlen(path));
  if (length == 0) {
    out->clear();
    return true;
  }
  const int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, length, nullptr, 0);
  if (n <= 0) return false;
  out->resize(static_cast<size_t>(n));
  return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, length, out->data(), n) == n;
}

StatTime FromFiletime(LARGE_INTEGER t) {
  const int64_t ticks = t.QuadPart - kUnixEpochTicks;
  int64_t sec = ticks / 10000000;
  int64_t rem = ticks % 10000000;
  if (rem < 0) {
    rem += 10000000;
    sec -= 1;
  }
  return StatTime{sec, rem * 100};
}

/* An event for this thread's waits on overlapped handles, its low bit set: a completion with
 * such an event is not queued to the handle's completion port (GetQueuedCompletionStatus docs). */
HANDLE ThreadEvent() {
  struct Event {
    HANDLE handle = CreateEventW(nullptr, FALSE, FALSE, nullptr);
    ~Event() {
      if (handle != nullptr) CloseHandle(handle);
    }
  };
  static thread_local Event event;
  if (event.handle == nullptr) return nullptr;
  return reinterpret_cast<HANDLE>(reinterpret_cast<uintptr_t>(event.handle) | 1);
}

bool FileEntry(int fd, HandleEntry* entry) {
  return HandleTable::Process().Get(fd, entry) && entry->kind == HandleEntry::Kind::File;
}

/* One ReadFile / WriteFile at `offset` (-1: at the current position), waited for. Bytes moved,
 * or a libuv error; end of file reads 0. The current position of an overlapped handle is the
 * table's (which then advances); a synchronous one (node:fs's) keeps its own file pointer. */
int64_t Transfer(int fd, bool write, uint8_t* data, size_t length, int64_t offset) {
  HandleEntry entry;
  if (!FileEntry(fd, &entry)) return UV_EBADF;
  const DWORD n = length > 0x7FFFF000 ? 0x7FFFF000 : static_cast<DWORD>(length);
  DWORD moved = 0;
  const bool current = offset < 0;
  if (current && !entry.overlapped) {
    const BOOL ok = write ? WriteFile(entry.handle, data, n, &moved, nullptr)
                          : ReadFile(entry.handle, data, n, &moved, nullptr);
    if (ok) return moved;
    const DWORD error = GetLastError();
    return error == ERROR_HANDLE_EOF && !write ? 0 : TranslateTransferError(error);
  }
  const int64_t at = current ? entry.position : offset;
  OVERLAPPED overlapped;
  std::memset(&overlapped, 0, sizeof overlapped);
  if (write && entry.append) {
    // FILE_APPEND_DATA without FILE_WRITE_DATA: every write goes to the end.
    overlapped.Offset = overlapped.OffsetHigh = 0xFFFFFFFF;
  } else {
    overlapped.Offset = static_cast<DWORD>(static_cast<uint64_t>(at));
    overlapped.OffsetHigh = static_cast<DWORD>(static_cast<uint64_t>(at) >> 32);
  }
  overlapped.hEvent = ThreadEvent();
  if (overlapped.hEvent == nullptr) return LastError();
  BOOL ok = write ? WriteFile(entry.handle, data, n, nullptr, &overlapped)
                  : ReadFile(entry.handle, data, n, nullptr, &overlapped);
  DWORD error = ok ? 0 : GetLastError();
  if (ok || error == ERROR_IO_PENDING) {
    ok = GetOverlappedResult(entry.handle, &overlapped, &moved, TRUE);
    error = ok ? 0 : GetLastError();
  }
  if (!ok && !(error == ERROR_HANDLE_EOF && !write)) return TranslateTransferError(error);
  if (!ok) moved = 0;
  if (current) {
    // After an append, the position is the end of the file, as write(2) leaves it with O_APPEND.
    int64_t next = at + moved;
    LARGE_INTEGER size;
    if (write && entry.append && GetFileSizeEx(entry.handle, &size)) next = size.QuadPart;
    HandleTable::Process().SetPosition(fd, entry.handle, next);
  }
  return moved;
}

/* readv / writev: one transfer per buffer, in order, stopping at a short one (fault builds:
 * over the first half of the buffers when short_file_transfer fires, CutVectorsForFault). */
int64_t TransferVector(const Operation& op, bool write) {
  int64_t total = 0;
  const uint32_t count = CutVectorsForFault(op);
  for (uint32_t i = 0; i < count; i++) {
    const size_t length = IoVecLength(op.iov[i]);
    if (length == 0) continue;
    const int64_t r = Transfer(op.fd, write, IoVecData(op.iov[i]), length, op.offset < 0 ? -1 : op.offset + total);
    if (r < 0) return total > 0 ? total : r;
    total += r;
    if (static_cast<size_t>(r) < length) break;
  }
  return total;
}

/* sendfile to a regular file (the IOCP engine sends to a socket with TransmitFile itself):
 * Windows copies between two files only whole (CopyFileEx), so the bytes go through a buffer of
 * this thread, never through JavaScript: the input read at the position, written at the output's
 * position (which advances), until `len`, the end of the input or an error (after some bytes,
 * those, as sendfile(2) reports them). */
int64_t SendfileToFile(const Operation& op) {
  HandleEntry output;
  HandleEntry input;
  if (!HandleTable::Process().Get(op.fd, &output) || !HandleTable::Process().Get(op.fd_in, &input)) return UV_EBADF;
  if (output.kind != HandleEntry::Kind::File || input.kind != HandleEntry::Kind::File) return UV_EINVAL;
  if (GetFileType(input.handle) != FILE_TYPE_DISK) return UV_ESPIPE;
  constexpr size_t kPiece = 1 << 20;
  std::unique_ptr<uint8_t[]> buffer(new (std::nothrow) uint8_t[kPiece]);
  if (buffer == nullptr) return UV_ENOMEM;
  int64_t done = 0;
  while (static_cast<uint64_t>(done) < op.len) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kPiece, op.len - static_cast<uint64_t>(done)));
    const int64_t n = Transfer(op.fd_in, false, buffer.get(), want, op.offset + done);
    if (n <= 0) return done > 0 ? done : n;  // the end of the input, or an error
    const int64_t written = Transfer(op.fd, true, buffer.get(), static_cast<size_t>(n), -1);
    if (written < 0) return done > 0 ? done : written;
    done += written;
    if (written < n) break;
  }
  return done;
}

/* CreateFileW's arguments for Node's O_* flags and mode, as libuv's fs__open derives them. */
struct OpenArguments {
  DWORD access = 0;
  DWORD sharing = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
  DWORD disposition = 0;
  DWORD attributes = FILE_ATTRIBUTE_NORMAL;
  bool append = false;
};

bool OpenArgumentsOf(uint32_t flags, uint32_t mode, OpenArguments* a) {
  switch (flags & (UV_FS_O_RDONLY | UV_FS_O_WRONLY | UV_FS_O_RDWR)) {
    case UV_FS_O_RDONLY: a->access = FILE_GENERIC_READ; break;
    case UV_FS_O_WRONLY: a->access = FILE_GENERIC_WRITE; break;
    case UV_FS_O_RDWR: a->access = FILE_GENERIC_READ | FILE_GENERIC_WRITE; break;
    default: return false;
  }
  if (flags & UV_FS_O_APPEND) {
    a->access &= ~static_cast<DWORD>(FILE_WRITE_DATA);
    a->access |= FILE_APPEND_DATA;
    a->append = true;
  }
  if (flags & UV_FS_O_EXLOCK) a->sharing = 0;
  switch (flags & (UV_FS_O_CREAT | UV_FS_O_EXCL | UV_FS_O_TRUNC)) {
    case 0:
    case UV_FS_O_EXCL: a->disposition = OPEN_EXISTING; break;
    case UV_FS_O_CREAT: a->disposition = OPEN_ALWAYS; break;
    case UV_FS_O_CREAT | UV_FS_O_EXCL:
    case UV_FS_O_CREAT | UV_FS_O_TRUNC | UV_FS_O_EXCL: a->disposition = CREATE_NEW; break;
    case UV_FS_O_TRUNC:
    case UV_FS_O_TRUNC | UV_FS_O_EXCL: a->disposition = TRUNCATE_EXISTING; break;
    case UV_FS_O_CREAT | UV_FS_O_TRUNC: a->disposition = CREATE_ALWAYS; break;
    default: return false;
  }
  // A new file without the owner's write bit is read-only (Node's only use of the mode here).
  if ((flags & UV_FS_O_CREAT) && !(mode & 0200)) a->attributes |= FILE_ATTRIBUTE_READONLY;
  if (flags & UV_FS_O_TEMPORARY) {
    a->attributes |= FILE_FLAG_DELETE_ON_CLOSE | FILE_ATTRIBUTE_TEMPORARY;
    a->access |= DELETE;
  }
  if (flags & UV_FS_O_SHORT_LIVED) a->attributes |= FILE_ATTRIBUTE_TEMPORARY;
  if (flags & UV_FS_O_SEQUENTIAL) {
    a->attributes |= FILE_FLAG_SEQUENTIAL_SCAN;
  } else if (flags & UV_FS_O_RANDOM) {
    a->attributes |= FILE_FLAG_RANDOM_ACCESS;
  }
  if (flags & UV_FS_O_DIRECT) a->attributes |= FILE_FLAG_NO_BUFFERING;
  if (flags & (UV_FS_O_DSYNC | UV_FS_O_SYNC)) a->attributes |= FILE_FLAG_WRITE_THROUGH;
  // Directories open too (as on POSIX with O_RDONLY); every handle is overlapped.
  a->attributes |= FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OVERLAPPED;
  return true;
}

int64_t Open(const Operation& op) {
  OpenArguments a;
  if (!OpenArgumentsOf(op.op_flags, op.mode, &a)) return UV_EINVAL;
  std::wstring path;
  if (!WidePath(op.path, &path)) return UV_ECHARSET;
  SECURITY_ATTRIBUTES inherit = {sizeof(SECURITY_ATTRIBUTES), nullptr, FALSE};
  HANDLE h = CreateFileW(path.c_str(), a.access, a.sharing, &inherit, a.disposition, a.attributes, nullptr);
  if (h == INVALID_HANDLE_VALUE) {
    const DWORD error = GetLastError();
    // CREATE_NEW on an existing file reports ERROR_FILE_EXISTS: EEXIST; a directory opened for
    // writing reports ERROR_ACCESS_DENIED, which Node reports as EISDIR.
    if (error == ERROR_ACCESS_DENIED && (a.access & (FILE_WRITE_DATA | FILE_APPEND_DATA))) {
      const DWORD attributes = GetFileAttributesW(path.c_str());
      if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY)) return UV_EISDIR;
    }
    return TranslateSystemError(error);
  }
  HandleEntry entry;
  entry.kind = HandleEntry::Kind::File;
  entry.handle = h;
  entry.overlapped = true;
  entry.append = a.append;
  const int fd = HandleTable::Process().Insert(entry);
  if (fd < 0) CloseHandle(h);
  return fd;
}

/* Fills `out` from an open handle, as libuv's fs__stat_handle does. */
int64_t StatHandle(HANDLE h, bool link, StatBuffer* out) {
  FILE_BASIC_INFO basic;
  FILE_STANDARD_INFO standard;
  BY_HANDLE_FILE_INFORMATION identity;
  if (!GetFileInformationByHandleEx(h, FileBasicInfo, &basic, sizeof basic) ||
      !GetFileInformationByHandleEx(h, FileStandardInfo, &standard, sizeof standard) ||
      !GetFileInformationByHandle(h, &identity)) {
    return LastError();
  }
  std::memset(out, 0, sizeof *out);
  const DWORD attributes = basic.FileAttributes;
  if (link && (attributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
    out->mode = 0120000;  // S_IFLNK
  } else if (attributes & FILE_ATTRIBUTE_DIRECTORY) {
    out->mode = 0040000;  // S_IFDIR
  } else {
    out->mode = 0100000;  // S_IFREG
  }
  // Windows has no permission bits: read-only or not, for everyone (0444 / 0666).
  out->mode |= (attributes & FILE_ATTRIBUTE_READONLY) ? 0444 : 0666;
  out->dev = identity.dwVolumeSerialNumber;
  out->ino = (static_cast<uint64_t>(identity.nFileIndexHigh) << 32) | identity.nFileIndexLow;
  out->nlink = standard.NumberOfLinks;
  out->size = (attributes & FILE_ATTRIBUTE_DIRECTORY) ? 0 : static_cast<uint64_t>(standard.EndOfFile.QuadPart);
  out->blksize = 4096;
  out->blocks = static_cast<uint64_t>(standard.AllocationSize.QuadPart) >> 9;
  out->atime = FromFiletime(basic.LastAccessTime);
  out->mtime = FromFiletime(basic.LastWriteTime);
  out->ctime = FromFiletime(basic.ChangeTime);
  out->birthtime = FromFiletime(basic.CreationTime);
  return 0;
}

int64_t Stat(const Operation& op) {
  if (op.opcode == PROACTOR_OP_FSTAT) {
    HandleEntry entry;
    if (!HandleTable::Process().Get(op.fd, &entry)) return UV_EBADF;
    if (entry.kind == HandleEntry::Kind::Socket) return UV_ENOTSUP;  // no file information
    return StatHandle(entry.handle, false, op.stat);
  }
  std::wstring path;
  if (!WidePath(op.path, &path)) return UV_ECHARSET;
  const bool link = (op.op_flags & PROACTOR_STAT_F_NOFOLLOW) != 0;
  const DWORD flags = FILE_FLAG_BACKUP_SEMANTICS | (link ? FILE_FLAG_OPEN_REPARSE_POINT : 0);
  HANDLE h = CreateFileW(path.c_str(), FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         nullptr, OPEN_EXISTING, flags, nullptr);
  if (h == INVALID_HANDLE_VALUE) return LastError();
  const int64_t r = StatHandle(h, link, op.stat);
  CloseHandle(h);
  return r;
}

int64_t Unlink(const Operation& op) {
  std::wstring path;
  if (!WidePath(op.path, &path)) return UV_ECHARSET;
  if (op.op_flags & PROACTOR_UNLINK_F_DIR) return RemoveDirectoryW(path.c_str()) ? 0 : LastError();
  if (DeleteFileW(path.c_str())) return 0;
  const DWORD error = GetLastError();
  // A read-only file: Node deletes it anyway (libuv clears the attribute first).
  if (error == ERROR_ACCESS_DENIED) {
    const DWORD attributes = GetFileAttributesW(path.c_str());
    if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_READONLY) &&
        !(attributes & FILE_ATTRIBUTE_DIRECTORY) &&
        SetFileAttributesW(path.c_str(), attributes & ~static_cast<DWORD>(FILE_ATTRIBUTE_READONLY))) {
      if (DeleteFileW(path.c_str())) return 0;
      const DWORD again = GetLastError();
      (void)SetFileAttributesW(path.c_str(), attributes);
      return TranslateSystemError(again);
    }
  }
  return TranslateSystemError(error);
}

int64_t Rename(const Operation& op) {
  std::wstring from, to;
  if (!WidePath(op.path, &from) || !WidePath(op.path2, &to)) return UV_ECHARSET;
  return MoveFileExW(from.c_str(), to.c_str(), MOVEFILE_REPLACE_EXISTING) ? 0 : LastError();
}

int64_t Mkdir(const Operation& op) {
  std::wstring path;
  if (!WidePath(op.path, &path)) return UV_ECHARSET;
  return CreateDirectoryW(path.c_str(), nullptr) ? 0 : LastError();
}

int64_t Truncate(const Operation& op) {
  HandleEntry entry;
  if (!FileEntry(op.fd, &entry)) return UV_EBADF;
  FILE_END_OF_FILE_INFO end;
  end.EndOfFile.QuadPart = op.offset;
  return SetFileInformationByHandle(entry.handle, FileEndOfFileInfo, &end, sizeof end) ? 0 : LastError();
}

int64_t Sync(const Operation& op) {
  HandleEntry entry;
  if (!FileEntry(op.fd, &entry)) return UV_EBADF;
  return FlushFileBuffers(entry.handle) ? 0 : LastError();
}

/* Node itself starts Winsock; this makes Call() independent of that (WSAStartup counts). */
bool WinsockReady() {
  static const bool ready = [] {
    WSADATA data;
    return WSAStartup(MAKEWORD(2, 2), &data) == 0;
  }();
  return ready;
}

int64_t AddSocket(SOCKET s, int family, int type, bool connected) {
  HandleEntry entry;
  entry.kind = HandleEntry::Kind::Socket;
  entry.socket = s;
  entry.family = family;
  entry.type = type;
  entry.connected = connected;
  const int fd = HandleTable::Process().Insert(entry);
  if (fd < 0) closesocket(s);
  return fd;
}

int64_t Socket(const Operation& op) {
  if (!WinsockReady()) return SocketError();
  const int family = PlatformFamily(op.op_flags);
  const int type = PlatformSocketType(op.mode);
  SOCKET s = WSASocketW(family, type, 0, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET) return SocketError();
  if (family == AF_INET6) {
    // Dual-stack, as Linux makes IPv6 sockets and as libuv binds them (Windows' default is
    // IPv6 only): '::' then takes IPv4 clients too, as node:net's listen() does.
    DWORD v6only = 0;
    (void)setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<const char*>(&v6only), sizeof v6only);
  }
  if (type == SOCK_DGRAM) {
    // An ICMP "port unreachable" must not fail the socket's next receive (WSAECONNRESET), as
    // libuv and POSIX behave: off, as libuv sets it.
    BOOL report = FALSE;
    DWORD bytes = 0;
    (void)WSAIoctl(s, SIO_UDP_CONNRESET, &report, sizeof report, nullptr, 0, &bytes, nullptr, nullptr);
  }
  return AddSocket(s, family, type, false);
}

int64_t Accept(const Operation& op, const HandleEntry& listener) {
  auto* name = reinterpret_cast<struct sockaddr*>(&op.address->storage);
  SOCKET s = accept(listener.socket, name, &op.address->length);
  if (s == INVALID_SOCKET) return SocketError();
  (void)SetHandleInformation(reinterpret_cast<HANDLE>(s), HANDLE_FLAG_INHERIT, 0);
  return AddSocket(s, listener.family, listener.type, true);
}

int64_t Poll(const Operation& op, SOCKET s) {
  WSAPOLLFD p;
  p.fd = s;
  p.events = 0;
  p.revents = 0;
  // RDHUP: Winsock reports a peer's shutdown as readable (a recv then returns 0) and as POLLHUP.
  if (op.op_flags & (PROACTOR_POLL_IN | PROACTOR_POLL_RDHUP)) p.events |= POLLRDNORM;
  if (op.op_flags & PROACTOR_POLL_OUT) p.events |= POLLWRNORM;
  if (WSAPoll(&p, 1, -1) == SOCKET_ERROR) return SocketError();
  uint32_t out = 0;
  if (p.revents & (POLLRDNORM | POLLRDBAND)) out |= PROACTOR_POLL_IN;
  if (p.revents & POLLWRNORM) out |= PROACTOR_POLL_OUT;
  if (p.revents & POLLERR) out |= PROACTOR_POLL_ERR;
  if (p.revents & POLLHUP) out |= PROACTOR_POLL_HUP;
  return out & (op.op_flags | PROACTOR_POLL_ERR | PROACTOR_POLL_HUP);
}

int64_t SocketCall(const Operation& op) {
  HandleEntry entry;
  if (!HandleTable::Process().Get(op.fd, &entry)) return UV_EBADF;
  if (entry.kind != HandleEntry::Kind::Socket) return UV_ENOTSOCK;
  const SOCKET s = entry.socket;
  auto result = [](int r) -> int64_t { return r == SOCKET_ERROR ? SocketError() : r; };
  switch (op.opcode) {
    case PROACTOR_OP_BIND:
      return result(bind(s, reinterpret_cast<const struct sockaddr*>(&op.address->storage), op.address->length));
    case PROACTOR_OP_LISTEN:
      // A datagram socket: EOPNOTSUPP, as Linux says (Winsock: WSAEOPNOTSUPP; Wine: WSAEINVAL
      // once it is bound).
      if (entry.type != SOCK_STREAM) return UV_ENOTSUP;
      // An unbound stream socket: Linux's listen(2) binds it to a free port of the wildcard
      // address, Winsock fails it (WSAEINVAL); bound first, as libuv's uv_listen does. (Not a
      if (!IsBound(s)) {
        const int error = BindWildcard(s, entry.family);
        if (error != 0) return TranslateSystemError(static_cast<DWORD>(error));
      }
      return result(listen(s, static_cast<int>(op.len > SOMAXCONN ? SOMAXCONN : op.len)));
    case PROACTOR_OP_ACCEPT:
      if (entry.type != SOCK_STREAM) return UV_ENOTSUP;  // as accept(2) on a datagram socket
      return Accept(op, entry);
    case PROACTOR_OP_CONNECT: {
      const int64_t r = result(connect(s, reinterpret_cast<const struct sockaddr*>(&op.address->storage),
                                       op.address->length));
      if (r == 0) HandleTable::Process().SetConnected(op.fd, reinterpret_cast<HANDLE>(s));
      return r;
    }
    case PROACTOR_OP_RECV:
      return result(recv(s, reinterpret_cast<char*>(op.data), static_cast<int>(op.len), 0));
    case PROACTOR_OP_SEND:
      return result(send(s, reinterpret_cast<const char*>(op.data), static_cast<int>(op.len), kNoSignal));
    case PROACTOR_OP_SHUTDOWN: {
      const int how = PlatformShutdown(op.op_flags);
      // A datagram socket with no peer: Linux's shutdown(2) shuts it down all the same (a receive
      // then ends with 0) but says ENOTCONN; Winsock succeeds.
      if (entry.type == SOCK_DGRAM && !entry.connected) {
        if (shutdown(s, how) != 0) return SocketError();
        return UV_ENOTCONN;
      }
      if (shutdown(s, how) != 0) return SocketError();
      if (how != SD_RECEIVE) HandleTable::Process().SetWriteShut(op.fd, reinterpret_cast<HANDLE>(s));
      return 0;
    }
    case PROACTOR_OP_SETSOCKOPT: {
      if (op.op_flags == PROACTOR_SO_REUSEADDR) return 0;  // Windows' default (socket_options.h)
      int level = 0;
      int name = 0;
      if (!PlatformSocketOption(op.op_flags, &level, &name)) return UV_ENOTSUP;
      // A TCP option on a socket that is not TCP: ENOPROTOOPT, as Linux says (Wine: WSAEINVAL).
      if (level == IPPROTO_TCP && entry.type != SOCK_STREAM) return UV_ENOPROTOOPT;
      const int value = static_cast<int>(op.len);
      return result(setsockopt(s, level, name, reinterpret_cast<const char*>(&value), sizeof value));
    }
    case PROACTOR_OP_GETSOCKNAME: {
      if (getsockname(s, reinterpret_cast<struct sockaddr*>(&op.address->storage), &op.address->length) == 0) return 0;
      if (WSAGetLastError() != WSAEINVAL) return SocketError();
      // Not bound yet: POSIX gives the wildcard address of the family with port 0, Winsock
      // WSAEINVAL. The POSIX answer, so a socket's address reads the same everywhere.
      std::memset(&op.address->storage, 0, sizeof op.address->storage);
      op.address->storage.ss_family = static_cast<ADDRESS_FAMILY>(entry.family);
      op.address->length = entry.family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
      return 0;
    }
    case PROACTOR_OP_RECVFROM:
      return result(recvfrom(s, reinterpret_cast<char*>(op.data), static_cast<int>(op.len), 0,
                             reinterpret_cast<struct sockaddr*>(&op.address->storage), &op.address->length));
    case PROACTOR_OP_SENDTO:
      return result(sendto(s, reinterpret_cast<const char*>(op.data), static_cast<int>(op.len), kNoSignal,
                           reinterpret_cast<const struct sockaddr*>(&op.address->storage), op.address->length));
    case PROACTOR_OP_POLL:
      return Poll(op, s);
    default:
      return UV_ENOSYS;
  }
}

}  // namespace

bool IsSocketDescriptor(int fd) {
  HandleEntry entry;
  return HandleTable::Process().Get(fd, &entry) && entry.kind == HandleEntry::Kind::Socket;
}

bool ContinuesShortTransfer(const Operation& op, uint32_t moved) {
  // As the POSIX half: a disk file's short transfer is continued (a write always; a read unless
  // it reached the end of the file), a pipe's, socket's or console's count is the answer.
  HandleEntry entry;
  if (!FileEntry(op.fd, &entry) || GetFileType(entry.handle) != FILE_TYPE_DISK) return false;
  if (op.opcode != PROACTOR_OP_READ) return true;
  LARGE_INTEGER size;
  if (!GetFileSizeEx(entry.handle, &size)) return false;
  // At the current position, the position has moved past the bytes read already: the table's
  // for an overlapped handle, the handle's own file pointer for a synchronous one (node:fs's).
  int64_t end = op.offset + static_cast<int64_t>(moved);
  if (op.offset < 0 && entry.overlapped) {
    end = entry.position;
  } else if (op.offset < 0) {
    LARGE_INTEGER zero = {};
    LARGE_INTEGER at;
    if (!SetFilePointerEx(entry.handle, zero, &at, FILE_CURRENT)) return false;
    end = at.QuadPart;
  }
  return end < size.QuadPart;
}

int64_t Call(const Operation& op) {
  switch (op.opcode) {
    case PROACTOR_OP_NOP:
      return 0;
    case PROACTOR_OP_OPEN:
      return Open(op);
    case PROACTOR_OP_CLOSE:
      return HandleTable::Process().Close(op.fd);
    case PROACTOR_OP_READ:
    case PROACTOR_OP_WRITE:
      return Transfer(op.fd, op.opcode == PROACTOR_OP_WRITE, op.data, CutForFault(op), op.offset);
    case PROACTOR_OP_READV:
    case PROACTOR_OP_WRITEV:
      return TransferVector(op, op.opcode == PROACTOR_OP_WRITEV);
    case PROACTOR_OP_FSYNC:
    case PROACTOR_OP_FDATASYNC:
      return Sync(op);
    case PROACTOR_OP_STAT:
    case PROACTOR_OP_FSTAT:
      return Stat(op);
    case PROACTOR_OP_UNLINK:
      return Unlink(op);
    case PROACTOR_OP_RENAME:
      return Rename(op);
    case PROACTOR_OP_MKDIR:
      return Mkdir(op);
    case PROACTOR_OP_FTRUNCATE:
      return Truncate(op);
    case PROACTOR_OP_SOCKET:
      return Socket(op);
    case PROACTOR_OP_BIND:
    case PROACTOR_OP_LISTEN:
    case PROACTOR_OP_ACCEPT:
    case PROACTOR_OP_CONNECT:
    case PROACTOR_OP_RECV:
    case PROACTOR_OP_SEND:
    case PROACTOR_OP_SHUTDOWN:
    case PROACTOR_OP_SETSOCKOPT:
    case PROACTOR_OP_GETSOCKNAME:
    case PROACTOR_OP_RECVFROM:
    case PROACTOR_OP_SENDTO:
    case PROACTOR_OP_POLL:
      return SocketCall(op);
    case PROACTOR_OP_SENDFILE:
      return SendfileToFile(op);
    default:
      // Timeouts are timers and multishot operations streams: the engine's, not one call.
      return UV_ENOSYS;
  }
}

}  // namespace proactor
