#include "signal_descriptor.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/eventfd.h>
#endif

namespace proactor {

int SignalDescriptor::Open(const char** syscall) {
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
  *syscall = "fcntl";
  for (int fd : fds) {
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
      const int error = errno;
      Close();
      return -error;
    }
  }
#endif
  return 0;
}

void SignalDescriptor::Signal() {
  if (write_fd_ < 0) return;
#ifdef __linux__
  (void)eventfd_write(write_fd_, 1);
#else
  const char byte = 1;
  (void)write(write_fd_, &byte, 1);  // EAGAIN: the pipe is full, so already signalled
#endif
}

void SignalDescriptor::Clear() {
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

void SignalDescriptor::Close() {
  if (write_fd_ >= 0 && write_fd_ != read_fd_) close(write_fd_);
  if (read_fd_ >= 0) close(read_fd_);
  read_fd_ = write_fd_ = -1;
}

}  // namespace proactor
