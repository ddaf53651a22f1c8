/*
 * The machine's limit for proactor's benchmarks: io_uring driven directly from C with raw
 * syscalls (no liburing), at a fixed depth, on the same file and block size as the Node runs.
 *
 *   uring_bench randread FILE BLOCK DEPTH SECONDS [direct]   random reads, DEPTH in flight
 *   uring_bench nop BATCH SECONDS                             nops in batches of BATCH
 *
 * Prints one JSON line: {"ops":N,"seconds":S,"opsPerSec":R}. Exits non-zero with a message on
 * any failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct ring {
  int fd;
  unsigned sq_entries, cq_entries;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
  void *sq_ptr, *cq_ptr;
  size_t sq_len, cq_len, sqes_len;
};

static void die(const char *what, int err) {
  fprintf(stderr, "uring_bench: %s: %s\n", what, strerror(err));
  exit(1);
}

static void ring_init(struct ring *r, unsigned entries) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CQSIZE;
  p.cq_entries = entries * 4;
  int fd = (int)syscall(__NR_io_uring_setup, entries, &p);
  if (fd < 0) die("io_uring_setup", errno);
  r->fd = fd;
  r->sq_entries = p.sq_entries;
  r->cq_entries = p.cq_entries;
  r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  r->sq_ptr = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (r->sq_ptr == MAP_FAILED) die("mmap sq", errno);
  r->cq_ptr = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
  if (r->cq_ptr == MAP_FAILED) die("mmap cq", errno);
  r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
  r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (r->sqes == MAP_FAILED) die("mmap sqes", errno);
  char *sq = r->sq_ptr, *cq = r->cq_ptr;
  r->sq_head = (unsigned *)(sq + p.sq_off.head);
  r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned *)(sq + p.sq_off.array);
  r->cq_head = (unsigned *)(cq + p.cq_off.head);
  r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
}

static struct io_uring_sqe *get_sqe(struct ring *r) {
  unsigned tail = *r->sq_tail;
  unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
  if (tail - head >= r->sq_entries) return NULL;
  unsigned idx = tail & *r->sq_mask;
  r->sq_array[idx] = idx;
  struct io_uring_sqe *sqe = &r->sqes[idx];
  memset(sqe, 0, sizeof *sqe);
  __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
  return sqe;
}

static int enter(struct ring *r, unsigned submit, unsigned wait) {
  for (;;) {
    int ret = (int)syscall(__NR_io_uring_enter, r->fd, submit, wait, wait ? IORING_ENTER_GETEVENTS : 0, NULL, 0);
    if (ret >= 0) return ret;
    if (errno != EINTR) die("io_uring_enter", errno);
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void prep_read(struct io_uring_sqe *sqe, int fd, void *buf, unsigned block, uint64_t blocks, uint64_t tag) {
  sqe->opcode = IORING_OP_READ;
  sqe->fd = fd;
  sqe->addr = (uint64_t)(uintptr_t)buf;
  sqe->len = block;
  sqe->off = (next_random() % blocks) * block;
  sqe->user_data = tag;
}

static int randread(const char *path, unsigned block, unsigned depth, double seconds, int direct) {
  int fd = open(path, O_RDONLY | (direct ? O_DIRECT : 0));
  if (fd < 0) die("open", errno);
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat", errno);
  uint64_t blocks = (uint64_t)st.st_size / block;
  if (blocks == 0) die("file smaller than one block", EINVAL);
  struct ring r;
  ring_init(&r, depth);
  char *bufs;
  if (posix_memalign((void **)&bufs, 4096, (size_t)block * depth) != 0) die("posix_memalign", ENOMEM);
  for (unsigned i = 0; i < depth; i++) prep_read(get_sqe(&r), fd, bufs + (size_t)i * block, block, blocks, i);
  unsigned to_submit = depth;
  uint64_t done = 0;
  double start = now(), deadline = start + seconds, end;
  int stopping = 0;
  unsigned inflight = depth, rounds = 0;
  while (inflight > 0) {
    enter(&r, to_submit, 1);
    to_submit = 0;
    unsigned head = *r.cq_head, tail = __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE);
    for (; head != tail; head++) {
      struct io_uring_cqe *cqe = &r.cqes[head & *r.cq_mask];
      if (cqe->res < 0) die("read", -cqe->res);
      done++;
      inflight--;
      if (!stopping) {
        unsigned i = (unsigned)cqe->user_data;
        prep_read(get_sqe(&r), fd, bufs + (size_t)i * block, block, blocks, i);
        to_submit++;
        inflight++;
      }
    }
    __atomic_store_n(r.cq_head, head, __ATOMIC_RELEASE);
    if (!stopping && (++rounds & 15) == 0 && now() >= deadline) stopping = 1;
  }
  end = now();
  printf("{\"ops\":%llu,\"seconds\":%.6f,\"opsPerSec\":%.1f}\n", (unsigned long long)done, end - start,
         (double)done / (end - start));
  free(bufs);
  close(fd);
  return 0;
}

static int nops(unsigned batch, double seconds) {
  struct ring r;
  ring_init(&r, batch);
  uint64_t done = 0;
  double start = now(), deadline = start + seconds, end;
  do {
    for (unsigned i = 0; i < batch; i++) {
      struct io_uring_sqe *sqe = get_sqe(&r);
      sqe->opcode = IORING_OP_NOP;
      sqe->user_data = i;
    }
    enter(&r, batch, batch);
    unsigned head = *r.cq_head, tail = __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE);
    for (; head != tail; head++) {
      if (r.cqes[head & *r.cq_mask].res < 0) die("nop", -r.cqes[head & *r.cq_mask].res);
      done++;
    }
    __atomic_store_n(r.cq_head, head, __ATOMIC_RELEASE);
  } while ((end = now()) < deadline);
  printf("{\"ops\":%llu,\"seconds\":%.6f,\"opsPerSec\":%.1f}\n", (unsigned long long)done, end - start,
         (double)done / (end - start));
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 6 && strcmp(argv[1], "randread") == 0) {
    return randread(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), atof(argv[5]),
                    argc > 6 && strcmp(argv[6], "direct") == 0);
  }
  if (argc == 4 && strcmp(argv[1], "nop") == 0) return nops((unsigned)atoi(argv[2]), atof(argv[3]));
  fprintf(stderr, "usage: uring_bench randread FILE BLOCK DEPTH SECONDS [direct] | uring_bench nop BATCH SECONDS\n");
  return 2;
}
