/*
 * proactor ABI: the layout of submission and completion entries exchanged between
 * @proactor/aio-core (TypeScript) and every backend.
 *
 * This header is the single source of truth. packages/aio-core/src/abi.ts mirrors it and
 * packages/aio-core/test/abi.test.ts parses this file and fails when the two disagree.
 *
 * Contracts:
 * - Both rings are ArrayBuffers allocated by JavaScript. Entries are little-endian and
 *   naturally aligned.
 * - submit(n) hands entries [0, n) of the submission buffer to the backend, which consumes
 *   them before returning (it may copy them into a kernel ring, a thread pool queue, ...).
 * - A backend writes completions into entries [0, n) of the completion buffer and then calls
 *   the queue's completion callback once with n. The buffer is reused by the next batch.
 * - Every operation with a slot other than PROACTOR_SLOT_NONE produces exactly one final
 *   completion (flags without PROACTOR_CQE_F_MORE). Completions for PROACTOR_SLOT_NONE may be
 *   posted and are ignored.
 * - result >= 0 is the operation's value (bytes, fd, 0); result < 0 is a negative libuv error
 *   code (on Linux and the BSDs: -errno; on Windows: the UV_E* value Node reports as errno).
 * - Linked operations (PROACTOR_SQE_F_LINK): the next entry starts only when this one
 *   succeeded; an error or a short read/write completes every later entry of the chain with
 *   UV_ECANCELED. A chain is never split across two submit() calls.
 * - The resources of an operation (buffers, paths) are not in the entry: they live in the
 *   queue's resource table at index 2 * slot and 2 * slot + 1, and stay referenced by the
 *   queue until the operation's final completion.
 * - Provided buffers (PROACTOR_OP_RECV_MULTI): the queue hands the engine one memory block of
 *   `count` buffers of `size` bytes (Engine.provideBuffers); buffer i is bytes
 *   [i * size, (i + 1) * size). The engine lends them to the kernel and takes each back after
 *   the complete() call that handed its data over returned.
 * - Closing a socket through the queue ends the operations still waiting on it (accept, recv,
 *   connect, poll, ...) with UV_ECANCELED, on every backend.
 */
#ifndef PROACTOR_ABI_H
#define PROACTOR_ABI_H

#include <stdint.h>

#define PROACTOR_ABI_VERSION 1

#define PROACTOR_SQE_SIZE 64
#define PROACTOR_CQE_SIZE 16
#define PROACTOR_STAT_FIELDS 18
#define PROACTOR_SLOT_NONE 0xFFFFFFFFu
#define PROACTOR_IOV_MAX 1024

/* Opcodes. Resource table contents per opcode are given as [res0, res1]. */
enum proactor_opcode {
  PROACTOR_OP_NOP = 0,        /* -> 0 */
  PROACTOR_OP_OPEN = 1,       /* [path] op_flags = O_* flags, mode -> fd */
  PROACTOR_OP_CLOSE = 2,      /* fd -> 0 */
  PROACTOR_OP_READ = 3,       /* [buffer] fd, offset, buf_offset, len -> bytes read */
  PROACTOR_OP_WRITE = 4,      /* [buffer] fd, offset, buf_offset, len -> bytes written */
  PROACTOR_OP_READV = 5,      /* [buffer[]] fd, offset, len = buffer count -> bytes read */
  PROACTOR_OP_WRITEV = 6,     /* [buffer[]] fd, offset, len = buffer count -> bytes written */
  PROACTOR_OP_FSYNC = 7,      /* fd -> 0 */
  PROACTOR_OP_FDATASYNC = 8,  /* fd -> 0 */
  PROACTOR_OP_STAT = 9,       /* [path] op_flags = PROACTOR_STAT_F_* ; fills the stat area -> 0 */
  PROACTOR_OP_FSTAT = 10,     /* fd; fills the stat area -> 0 */
  PROACTOR_OP_UNLINK = 11,    /* [path] op_flags = PROACTOR_UNLINK_F_* -> 0 */
  PROACTOR_OP_RENAME = 12,    /* [from, to] -> 0 */
  PROACTOR_OP_MKDIR = 13,     /* [path] mode -> 0 */
  PROACTOR_OP_FTRUNCATE = 14, /* fd, offset = new length -> 0 */
  PROACTOR_OP_TIMEOUT = 15,   /* timeout_ns -> 0 when it expired */
  PROACTOR_OP_CANCEL = 16,    /* target = slot to cancel -> 0, or an error; slot is SLOT_NONE */
  PROACTOR_OP_SOCKET = 17,     /* op_flags = PROACTOR_AF_* family, mode = PROACTOR_SOCK_* type -> fd */
  PROACTOR_OP_BIND = 18,       /* fd; the slot's address area holds the local address -> 0 */
  PROACTOR_OP_LISTEN = 19,     /* fd, len = backlog -> 0 */
  PROACTOR_OP_ACCEPT = 20,     /* fd -> new fd; the peer's address into the slot's address area */
  PROACTOR_OP_CONNECT = 21,    /* fd; the slot's address area holds the peer address -> 0 */
  PROACTOR_OP_RECV = 22,       /* [buffer] fd, buf_offset, len -> bytes received, 0 = peer closed its side */
  PROACTOR_OP_SEND = 23,       /* [buffer] fd, buf_offset, len -> bytes sent */
  PROACTOR_OP_SHUTDOWN = 24,   /* fd, op_flags = PROACTOR_SHUT_* -> 0 */
  PROACTOR_OP_SETSOCKOPT = 25, /* fd, op_flags = PROACTOR_SO_* option, len = value -> 0 */
  PROACTOR_OP_GETSOCKNAME = 26, /* fd; the local address into the slot's address area -> 0 */
  PROACTOR_OP_RECVFROM = 27,   /* [buffer] fd, buf_offset, len -> bytes (a longer datagram is truncated);
                                  the sender's address into the slot's address area */
  PROACTOR_OP_SENDTO = 28,     /* [buffer] fd, buf_offset, len; the slot's address area holds the
                                  destination -> bytes sent */
  PROACTOR_OP_POLL = 29,       /* fd, op_flags = PROACTOR_POLL_* events wanted -> the PROACTOR_POLL_*
                                  events ready (ERR and HUP are reported whether asked for or not) */
  /* Multishot (only with the multishot capability): one request, many completions. Every
   * completion but the last carries PROACTOR_CQE_F_MORE and is an item; the last one ends the
   * request (an error, or as said below). Cancelling ends it with UV_ECANCELED. */
  PROACTOR_OP_ACCEPT_MULTI = 30, /* fd -> items: a new fd each, the peer's address in the slot's address
                                    area while that completion is handed over (a batch holds at most one
                                    item per slot) */
  PROACTOR_OP_RECV_MULTI = 31, /* fd -> items: bytes received into the provided buffer named by the
                                  completion's `buffer` field (flag PROACTOR_CQE_F_BUFFER), readable only
                                  during the complete() call that hands it over; the last completion is
                                  0 (peer closed its side), an error, or UV_ENOBUFS (the backend stopped
                                  receiving, e.g. no provided buffer was free: start it again) */
  PROACTOR_OP_SENDFILE = 32,   /* fd = output (a socket or a regular file), fd_in = input (a regular file),
                                  offset = input position (>= 0; the input's own position does not
                                  move), len = bytes -> bytes sent: fewer at the end of the input, or
                                  when the output failed after some bytes went out (the next call
                                  reports the error); ECANCELED when cancelled or closed through the
                                  queue while it runs, even after some bytes went out */
  PROACTOR_OP_COUNT = 33
};

/* Submission entry flags. */
#define PROACTOR_SQE_F_LINK 0x01u

/* op_flags for PROACTOR_OP_SEND. */
#define PROACTOR_SEND_F_ZEROCOPY 0x01u /* send from the buffer without copying it (a hint): the
                                          final completion comes once the buffer is released */

/* Events of PROACTOR_OP_POLL (portable values, not POLL* numbers). */
#define PROACTOR_POLL_IN 0x01u
#define PROACTOR_POLL_OUT 0x04u
#define PROACTOR_POLL_ERR 0x08u
#define PROACTOR_POLL_HUP 0x10u
#define PROACTOR_POLL_RDHUP 0x20u /* the peer shut its writing side down */

/* op_flags for PROACTOR_OP_STAT. */
#define PROACTOR_STAT_F_NOFOLLOW 0x01u /* lstat */

/* op_flags for PROACTOR_OP_UNLINK. */
#define PROACTOR_UNLINK_F_DIR 0x01u /* rmdir */

/* Address families of PROACTOR_OP_SOCKET and of the address area (portable: not AF_* numbers). */
#define PROACTOR_AF_NONE 0u
#define PROACTOR_AF_UNIX 1u
#define PROACTOR_AF_INET 4u
#define PROACTOR_AF_INET6 6u

/* Socket types (mode of PROACTOR_OP_SOCKET). */
#define PROACTOR_SOCK_STREAM 1u
#define PROACTOR_SOCK_DGRAM 2u

/* op_flags for PROACTOR_OP_SHUTDOWN. */
#define PROACTOR_SHUT_RD 0u
#define PROACTOR_SHUT_WR 1u
#define PROACTOR_SHUT_RDWR 2u

/* op_flags for PROACTOR_OP_SETSOCKOPT; len is the value (0 or 1). */
#define PROACTOR_SO_REUSEADDR 1u
#define PROACTOR_SO_REUSEPORT 2u
#define PROACTOR_SO_NODELAY 3u
#define PROACTOR_SO_KEEPALIVE 4u

/* Completion entry flags. */
#define PROACTOR_CQE_F_MORE 0x01u   /* more completions follow for this slot */
#define PROACTOR_CQE_F_BUFFER 0x02u /* `buffer` names the provided buffer holding the data */

/* Submission entry, 64 bytes. */
struct proactor_sqe {
  uint8_t opcode;      /*  0 */
  uint8_t flags;       /*  1 PROACTOR_SQE_F_* */
  uint16_t reserved0;  /*  2 */
  int32_t fd;          /*  4 */
  int64_t offset;      /*  8 file position; -1 = the file's current position */
  uint64_t buf_offset; /* 16 byte offset into res0 (read, write) */
  uint32_t len;        /* 24 bytes (read, write) or buffer count (readv, writev) */
  uint32_t slot;       /* 28 index into the queue's slot table; echoed in the completion */
  uint32_t op_flags;   /* 32 per-opcode flags */
  uint32_t mode;       /* 36 permission bits (open, mkdir) */
  uint32_t target;     /* 40 slot to cancel (cancel) */
  int32_t fd_in;       /* 44 the input descriptor (sendfile) */
  uint64_t timeout_ns; /* 48 (timeout) */
  uint64_t reserved2;  /* 56 */
};

/* Completion entry, 16 bytes. */
struct proactor_cqe {
  uint32_t slot;      /*  0 */
  uint32_t flags;     /*  4 PROACTOR_CQE_F_* */
  int32_t result;     /*  8 */
  uint32_t buffer;    /* 12 provided-buffer index (PROACTOR_CQE_F_BUFFER), else 0 */
};

/*
 * Stat area: one double[PROACTOR_STAT_FIELDS] per slot, in a Float64Array shared with the
 * backend, at index slot * PROACTOR_STAT_FIELDS. Field order (the same as Node's own):
 */
enum proactor_stat_field {
  PROACTOR_STAT_DEV = 0,
  PROACTOR_STAT_MODE = 1,
  PROACTOR_STAT_NLINK = 2,
  PROACTOR_STAT_UID = 3,
  PROACTOR_STAT_GID = 4,
  PROACTOR_STAT_RDEV = 5,
  PROACTOR_STAT_BLKSIZE = 6,
  PROACTOR_STAT_INO = 7,
  PROACTOR_STAT_SIZE = 8,
  PROACTOR_STAT_BLOCKS = 9,
  PROACTOR_STAT_ATIME_SEC = 10,
  PROACTOR_STAT_ATIME_NSEC = 11,
  PROACTOR_STAT_MTIME_SEC = 12,
  PROACTOR_STAT_MTIME_NSEC = 13,
  PROACTOR_STAT_CTIME_SEC = 14,
  PROACTOR_STAT_CTIME_NSEC = 15,
  PROACTOR_STAT_BIRTHTIME_SEC = 16,
  PROACTOR_STAT_BIRTHTIME_NSEC = 17
};

/*
 * Address area: PROACTOR_ADDRESS_SIZE bytes per slot, in a Uint8Array shared with the backend,
 * at byte slot * PROACTOR_ADDRESS_SIZE. JavaScript writes it for bind, connect and sendto and reads it
 * after accept, getsockname and recvfrom; native backends convert it to and from their sockaddr, so
 * JavaScript never needs the platform's AF_* numbers. family PROACTOR_AF_NONE = no address.
 */
#define PROACTOR_ADDRESS_SIZE 144
/* The longest unix socket pathname: Linux's sun_path (108 bytes) less its terminating NUL. The
 * record's path field is larger, so that any sun_path the kernel reports (an abstract name may
 * use all 108 bytes) fits whole. */
#define PROACTOR_ADDRESS_PATH_MAX 107

struct proactor_address {
  uint8_t family;      /*   0 PROACTOR_AF_* */
  uint8_t reserved0;   /*   1 */
  uint16_t port;       /*   2 port number (little-endian like every field, not network order) */
  uint32_t flowinfo;   /*   4 IPv6 flow information */
  uint32_t scope_id;   /*   8 IPv6 scope (interface index) */
  uint8_t addr[16];    /*  12 address bytes in network order; IPv4 in the first 4 */
  uint16_t path_len;   /*  28 bytes of path used (unix); no terminating NUL */
  uint8_t path[114];   /*  30 unix socket path: at most PROACTOR_ADDRESS_PATH_MAX bytes from
                        *     JavaScript, up to sizeof(sun_path) from the kernel */
};

#ifdef __cplusplus
static_assert(sizeof(struct proactor_address) == PROACTOR_ADDRESS_SIZE, "address size");
static_assert(sizeof(struct proactor_sqe) == PROACTOR_SQE_SIZE, "sqe size");
static_assert(sizeof(struct proactor_cqe) == PROACTOR_CQE_SIZE, "cqe size");
#endif

#endif /* PROACTOR_ABI_H */
