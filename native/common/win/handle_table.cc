#include "handle_table.h"

#include <uv.h>

#include <new>

#include "error_table.h"

namespace proactor {

HandleTable& HandleTable::Process() {
  // Never destroyed: pool threads of a terminating environment may still look it up while the
  // process exits.
  static HandleTable* table = new HandleTable();
  return *table;
}

HandleTable::HandleTable() {
  HMODULE host = GetModuleHandleW(nullptr);
  auto open = reinterpret_cast<OpenOsfhandle>(reinterpret_cast<void*>(GetProcAddress(host, "uv_open_osfhandle")));
  auto get = reinterpret_cast<GetOsfhandle>(reinterpret_cast<void*>(GetProcAddress(host, "uv_get_osfhandle")));
  auto close = reinterpret_cast<FsClose>(reinterpret_cast<void*>(GetProcAddress(host, "uv_fs_close")));
  auto cleanup = reinterpret_cast<FsReqCleanup>(reinterpret_cast<void*>(GetProcAddress(host, "uv_fs_req_cleanup")));
  // All four, or the table's own descriptors for files too.
  if (open != nullptr && get != nullptr && close != nullptr && cleanup != nullptr) {
    open_osfhandle_ = open;
    get_osfhandle_ = get;
    fs_close_ = close;
    fs_req_cleanup_ = cleanup;
  }
}

int HandleTable::Insert(const HandleEntry& entry) {
  if (entry.kind == HandleEntry::Kind::File && open_osfhandle_ != nullptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    const int fd = open_osfhandle_(entry.handle);
    if (fd < 0) return fd;  // a libuv error (EMFILE: the C runtime's table is full)
    try {
      files_[fd] = entry;
    } catch (const std::bad_alloc&) {
      // Known to the C runtime all the same: lookups then see a synchronous handle.
    }
    return fd;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < entries_.size(); i++) {
    if (entries_[i].kind == HandleEntry::Kind::Free) {
      entries_[i] = entry;
      return static_cast<int>(i) + kSocketBase;
    }
  }
  if (entries_.size() >= static_cast<size_t>(INT32_MAX - kSocketBase)) return UV_EMFILE;
  try {
    entries_.push_back(entry);
  } catch (const std::bad_alloc&) {
    return UV_ENOMEM;
  }
  return static_cast<int>(entries_.size() - 1) + kSocketBase;
}

bool HandleTable::Get(int fd, HandleEntry* out) {
  if (fd < 0) return false;
  if (fd < kSocketBase) {
    if (get_osfhandle_ == nullptr) return false;
    const HANDLE handle = get_osfhandle_(fd);
    if (handle == INVALID_HANDLE_VALUE || handle == nullptr) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = files_.find(fd);
    if (it != files_.end() && it->second.handle == handle) {
      *out = it->second;
    } else {
      // Opened elsewhere (node:fs): a synchronous handle with its own file pointer.
      *out = HandleEntry{};
      out->kind = HandleEntry::Kind::File;
      out->handle = handle;
    }
    return true;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t index = static_cast<size_t>(fd - kSocketBase);
  if (index >= entries_.size() || entries_[index].kind == HandleEntry::Kind::Free) return false;
  *out = entries_[index];
  return true;
}

int HandleTable::Close(int fd) {
  if (fd < 0) return UV_EBADF;
  if (fd < kSocketBase) {
    if (fs_close_ == nullptr) return UV_EBADF;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      files_.erase(fd);
    }
    // Synchronous (no callback): the loop is not used.
    uv_fs_t request;
    const int r = fs_close_(nullptr, &request, fd, nullptr);
    fs_req_cleanup_(&request);
    return r;
  }
  HandleEntry entry;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t index = static_cast<size_t>(fd - kSocketBase);
    if (index >= entries_.size() || entries_[index].kind == HandleEntry::Kind::Free) return UV_EBADF;
    entry = entries_[index];
    entries_[index] = HandleEntry{};
    // Trailing free entries go, so the table shrinks back after a burst.
    while (!entries_.empty() && entries_.back().kind == HandleEntry::Kind::Free) entries_.pop_back();
  }
  if (entry.kind == HandleEntry::Kind::Socket) {
    return closesocket(entry.socket) == 0 ? 0 : TranslateSystemError(static_cast<DWORD>(WSAGetLastError()));
  }
  return CloseHandle(entry.handle) ? 0 : LastError();
}

HandleEntry* HandleTable::Find(int fd, HANDLE handle) {
  if (fd >= 0 && fd < kSocketBase) {
    auto it = files_.find(fd);
    return it != files_.end() && it->second.handle == handle ? &it->second : nullptr;
  }
  const size_t index = static_cast<size_t>(fd - kSocketBase);
  if (fd < 0 || index >= entries_.size()) return nullptr;
  HandleEntry& entry = entries_[index];
  const bool same = (entry.kind == HandleEntry::Kind::File && entry.handle == handle) ||
                    (entry.kind == HandleEntry::Kind::Socket && reinterpret_cast<HANDLE>(entry.socket) == handle);
  return same ? &entry : nullptr;
}

void HandleTable::SetPort(int fd, HANDLE handle, HANDLE port, bool skips_port_on_success) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (HandleEntry* entry = Find(fd, handle)) {
    entry->port = port;
    entry->skips_port_on_success = skips_port_on_success;
  }
}

void HandleTable::SetConnected(int fd, HANDLE handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (HandleEntry* entry = Find(fd, handle)) entry->connected = true;
}

void HandleTable::SetWriteShut(int fd, HANDLE handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (HandleEntry* entry = Find(fd, handle)) entry->write_shut = true;
}

void HandleTable::SetPosition(int fd, HANDLE handle, int64_t position) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (HandleEntry* entry = Find(fd, handle)) entry->position = position;
}

}  // namespace proactor
