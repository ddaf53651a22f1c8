/*
 * The thread-per-connection baseline of the C10K benchmark: the blocking model that completion-
 * based I/O replaces. One thread accepts in a loop; every connection gets a pthread of its own
 * that does blocking read() and write() until the peer closes. No event loop, no non-blocking
 * descriptors, no readiness or completion API.
 *
 *   thread_echo PORT [STACK_KIB]
 *
 * Listens on 127.0.0.1:PORT (backlog 4096). STACK_KIB sets each connection thread's stack size
 * (64 gives a 64 KiB stack, the smallest a real server would dare); 0 or absent keeps the default
 * (RLIMIT_STACK, 8 MiB here). Prints "listening on PORT" once it accepts. Runs until killed.
 *
 * A connection whose thread cannot be created (EAGAIN: threads-max, pid_max, RLIMIT_NPROC or
 * memory) is closed at once, and the failure is counted on stderr: the client then sees its
 * connection closed, which is what a user of this model sees at the limit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The same size as the proactor server's receives (recvs() size 4096). */
#define BUFFER_SIZE 4096

static void die(const char *what, int err) {
  fprintf(stderr, "thread_echo: %s: %s\n", what, strerror(err));
  exit(1);
}

/* Writes all of buf[0..len); returns 0, or -1 when the peer is gone (EPIPE, ECONNRESET, ...). */
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static void *serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[BUFFER_SIZE];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    /* 0: the peer closed; < 0: reset or another error, which ends the connection either way. */
    if (n <= 0 || write_all(fd, buf, (size_t)n) < 0) break;
  }
  close(fd);
  return NULL;
}

static void pause_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: thread_echo PORT [STACK_KIB]\n");
    return 2;
  }
  char *end;
  long port = strtol(argv[1], &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    fprintf(stderr, "thread_echo: PORT must be 0..65535\n");
    return 2;
  }
  long stack_kib = 0;
  if (argc == 3) {
    stack_kib = strtol(argv[2], &end, 10);
    if (*end != '\0' || stack_kib < 0 || stack_kib > 1024 * 1024) {
      fprintf(stderr, "thread_echo: STACK_KIB must be 0..1048576\n");
      return 2;
    }
  }

  /* A peer that resets while its thread writes: write() fails with EPIPE instead of killing us. */
  signal(SIGPIPE, SIG_IGN);

  pthread_attr_t attr;
  int err = pthread_attr_init(&attr);
  if (err) die("pthread_attr_init", err);
  err = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (err) die("pthread_attr_setdetachstate", err);
  if (stack_kib > 0) {
    err = pthread_attr_setstacksize(&attr, (size_t)stack_kib * 1024);
    if (err) die("pthread_attr_setstacksize", err);
  }

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket", errno);
  int one = 1;
  if (setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) die("SO_REUSEADDR", errno);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind", errno);
  if (listen(listener, 4096) < 0) die("listen", errno);
  socklen_t addr_len = sizeof addr;
  if (getsockname(listener, (struct sockaddr *)&addr, &addr_len) < 0) die("getsockname", errno);
  printf("listening on %u\n", ntohs(addr.sin_port));
  fflush(stdout);

  unsigned long refused = 0;
  for (;;) {
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* Out of descriptors or memory: the connection waits in the backlog; try again later. */
        fprintf(stderr, "thread_echo: accept: %s\n", strerror(errno));
        pause_ms(100);
        continue;
      }
      die("accept", errno);
    }
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
      close(fd);
      continue;
    }
    pthread_t thread;
    err = pthread_create(&thread, &attr, serve, (void *)(intptr_t)fd);
    if (err) {
      close(fd);
      if (refused++ % 1000 == 0)
        fprintf(stderr, "thread_echo: pthread_create: %s (%lu connections refused so far)\n", strerror(err),
                refused);
    }
  }
}
