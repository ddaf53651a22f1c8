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
  PROACTOR_OP_COUNT = 17
};

/* Submission entry flags. */
#define PROACTOR_SQE_F_LINK 0x01u

/* op_flags for PROACTOR_OP_STAT. */
#define PROACTOR_STAT_F_NOFOLLOW 0x01u /* lstat */

/* op_flags for PROACTOR_OP_UNLINK. */
#define PROACTOR_UNLINK_F_DIR 0x01u /* rmdir */

/* Completion entry flags. */
#define PROACTOR_CQE_F_MORE 0x01u /* more completions follow for this slot */

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
  uint32_t reserved1;  /* 44 */
  uint64_t timeout_ns; /* 48 (timeout) */
  uint64_t reserved2;  /* 56 */
};

/* Completion entry, 16 bytes. */
struct proactor_cqe {
  uint32_t slot;      /*  0 */
  uint32_t flags;     /*  4 PROACTOR_CQE_F_* */
  int32_t result;     /*  8 */
  uint32_t reserved;  /* 12 */
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

#ifdef __cplusplus
static_assert(sizeof(struct proactor_sqe) == PROACTOR_SQE_SIZE, "sqe size");
static_assert(sizeof(struct proactor_cqe) == PROACTOR_CQE_SIZE, "cqe size");
#endif

#endif /* PROACTOR_ABI_H */
