/*
 * HandleTable: the Windows handles (files) and sockets behind the small integers that operations
 * name as descriptors (Operation::fd).
 *
 * Files are descriptors of node.exe's own C runtime, as node:fs gives out (libuv wraps every
 * handle it opens with _open_osfhandle), so a descriptor from node:fs works through a queue and
 * one from a queue works with node:fs: Call(OPEN) wraps its handle with uv_open_osfhandle, a
 * lookup asks uv_get_osfhandle, Call(CLOSE) closes through uv_fs_close (which frees the C
 * runtime's slot and closes the handle). Those are libuv's functions inside node.exe, found with
 * GetProcAddress on the process's module: node.exe exports them, its Node-API import library
 * does not. In a host without them, files get descriptors of this table instead (no sharing
 * with node:fs then).
 *
 * Sockets have no C runtime descriptor (Node's sockets have none either): they live in this
 * table from kSocketBase up, above the 8192 descriptors a C runtime can hand out (_setmaxstdio),
 * so the two never collide.
 *
 * Per descriptor the table also keeps what Windows does not: whether a file's handle is
 * overlapped (opened by Call(OPEN)) or synchronous (node:fs's), O_APPEND, the position of reads and
 * writes at "the current position" of an overlapped handle (which has no file pointer), and the
 * completion port the handle was associated with (a handle takes one, once).
 *
 * One table per process, as descriptors are per process: a descriptor opened through one queue
 * (or worker) works through another. Thread-safe (pool threads open and close). A lookup copies
 * the entry out: a concurrent close may close the handle while an operation uses it, which then
 * fails, as an operation racing close(2) does on POSIX.
 */
#ifndef PROACTOR_COMMON_WIN_HANDLE_TABLE_H
#define PROACTOR_COMMON_WIN_HANDLE_TABLE_H

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "platform.h"

namespace proactor {

struct HandleEntry {
  enum class Kind : uint8_t { Free, File, Socket };
  Kind kind = Kind::Free;
  HANDLE handle = INVALID_HANDLE_VALUE; /* File */
  SOCKET socket = INVALID_SOCKET;       /* Socket */
  int family = 0;                       /* Socket: AF_INET, AF_INET6, AF_UNIX */
  int type = 0;                         /* Socket: SOCK_STREAM, SOCK_DGRAM */
  /* Socket, stream: connected once (accepted, or a connect succeeded). Winsock does not say
   * ENOTCONN for every operation on a socket that never was (Wine says ECONNRESET for a send). */
  bool connected = false;
  /* Socket, stream: its writing side was shut down through the queue (poll reports POLL_OUT, and
   * POLL_HUP once the peer's end arrived too, as Linux's poll(2) does; AFD's poll says neither). */
  bool write_shut = false;
  /* File: opened by Call(OPEN) with FILE_FLAG_OVERLAPPED; false for node:fs's synchronous ones,
   * which keep their own file pointer. */
  bool overlapped = false;
  bool append = false; /* File: opened with O_APPEND (writes go to the end) */
  /* File, overlapped: the position of reads and writes at "the current position" (offset -1). */
  int64_t position = 0;
  /* The completion port the handle is associated with, or null. */
  HANDLE port = nullptr;
  /* File, associated: FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set on the handle, so a transfer
   * that completes at once queues no packet (its result is known at the call). */
  bool skips_port_on_success = false;
};

class HandleTable {
 public:
  /* The first socket descriptor: above every C runtime descriptor. */
  static constexpr int kSocketBase = 8192;

  static HandleTable& Process();

  /* Adds a file (entry.kind File) or socket; returns its descriptor, or a negative libuv error
   * (the handle is then still the caller's). */
  int Insert(const HandleEntry& entry);
  /* Copies the entry of `fd` into `*out`; false when `fd` names nothing. */
  bool Get(int fd, HandleEntry* out);
  /* Closes `fd` (closesocket, or the C runtime's close): 0 or a negative libuv error. */
  int Close(int fd);
  /* Records that `fd` (still naming `handle`) was associated with `port`. */
  void SetPort(int fd, HANDLE handle, HANDLE port, bool skips_port_on_success = false);
  /* Records that stream socket `fd` (still naming `handle`) is connected. */
  void SetConnected(int fd, HANDLE handle);
  /* Records that the writing side of socket `fd` (still naming `handle`) was shut down. */
  void SetWriteShut(int fd, HANDLE handle);
  /* Moves the position of `fd` (still naming `handle`) to `position`. */
  void SetPosition(int fd, HANDLE handle, int64_t position);

 private:
  HandleTable();
  /* The entry of `fd` if it still names `handle`, else null. Under mutex_. */
  HandleEntry* Find(int fd, HANDLE handle);

  /* libuv's descriptor functions in node.exe (null where the host lacks them). */
  using OpenOsfhandle = int (*)(HANDLE);
  using GetOsfhandle = HANDLE (*)(int);
  using FsClose = int (*)(void*, void*, int, void*);
  using FsReqCleanup = void (*)(void*);
  OpenOsfhandle open_osfhandle_ = nullptr;
  GetOsfhandle get_osfhandle_ = nullptr;
  FsClose fs_close_ = nullptr;
  FsReqCleanup fs_req_cleanup_ = nullptr;

  std::mutex mutex_;
  /* Files by C runtime descriptor: what Windows does not keep (see HandleEntry). */
  std::unordered_map<int, HandleEntry> files_;
  /* Sockets (and files, in a host without the C runtime functions), by fd - kSocketBase. */
  std::vector<HandleEntry> entries_;
};

}  // namespace proactor

#endif  // PROACTOR_COMMON_WIN_HANDLE_TABLE_H
