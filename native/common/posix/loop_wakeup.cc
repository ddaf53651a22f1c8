#include "../loop_wakeup.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#ifdef __linux__
#include <sys/eventfd.h>
#endif

namespace proactor {

LoopWakeup::~LoopWakeup() { Close(nullptr, nullptr); }

int LoopWakeup::Open(napi_env env, Callback callback, void* owner, const char** syscall) {
#ifdef __linux__
  *syscall = "eventfd";
  read_fd_ = write_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (read_fd_ < 0) return -errno;
#else
  *syscall = "pipe";
  int fds[2];
  if (pipe(fds) < 0) return -errno;
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  for (int fd : fds) {
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
#endif
  *syscall = "uv_poll_start";
  int r = poll_.Start(env, read_fd_, callback, owner);
  if (r < 0) CloseDescriptors();
  return r;
}

void LoopWakeup::Signal() {
  if (write_fd_ < 0) return;
#ifdef __linux__
  (void)eventfd_write(write_fd_, 1);
#else
  const char byte = 1;
  (void)write(write_fd_, &byte, 1);  // EAGAIN: the pipe is full, so already signalled
#endif
}

void LoopWakeup::Clear() {
  if (read_fd_ < 0) return;
#ifdef __linux__
  eventfd_t value;
  (void)eventfd_read(read_fd_, &value);  // EAGAIN: nothing to reset
#else
  char bytes[64];
  while (read(read_fd_, bytes, sizeof bytes) > 0) {
  }
#endif
}

void LoopWakeup::Close(LoopPoll::Closed closed, void* arg) {
  if (poll_.IsActive()) {
    poll_.Close(closed, arg);
  } else if (closed != nullptr) {
    closed(arg);
  }
  CloseDescriptors();
}

void LoopWakeup::CloseDescriptors() {
  if (write_fd_ >= 0 && write_fd_ != read_fd_) close(write_fd_);
  if (read_fd_ >= 0) close(read_fd_);
  read_fd_ = write_fd_ = -1;
}

}  // namespace proactor
