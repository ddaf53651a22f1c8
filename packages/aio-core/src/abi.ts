/**
 * TypeScript mirror of native/include/proactor/abi.h, the entry layout shared by aio-core and
 * every backend. test/abi.test.ts parses the header and fails when the two disagree.
 */

/**
 * Version of this layout (PROACTOR_ABI_VERSION). Nothing checks it at run time yet: aio-core and
 * a native backend must come from the same release.
 */
export const ABI_VERSION = 1;

/** Bytes of one submission entry (struct proactor_sqe; field offsets in {@link SqeOffset}). */
export const SQE_SIZE = 64;
/** Bytes of one completion entry (struct proactor_cqe; field offsets in {@link CqeOffset}). */
export const CQE_SIZE = 16;
/** Float64 fields of one slot's record in the stat area (their order: {@link StatField}). */
export const STAT_FIELDS = 18;
/**
 * The slot of an entry whose completion nobody waits for (a cancel request): its completion,
 * if the backend posts one, is ignored. Every other slot gets exactly one final completion.
 */
export const SLOT_NONE = 0xffffffff;
/** Most buffers one readv or writev entry may name (its `len` is the buffer count). */
export const IOV_MAX = 1024;

/**
 * The operation codes of submission entries (enum proactor_opcode in abi.h, where each one's
 * entry fields, resources and result are listed). A backend lists the ones it implements in
 * `capabilities.ops` by operation name; ACCEPT_MULTI and RECV_MULTI belong to the multishot
 * capability: one request, many completions flagged {@link CQE_F_MORE}.
 */
export const Opcode = {
  NOP: 0,
  OPEN: 1,
  CLOSE: 2,
  READ: 3,
  WRITE: 4,
  READV: 5,
  WRITEV: 6,
  FSYNC: 7,
  FDATASYNC: 8,
  STAT: 9,
  FSTAT: 10,
  UNLINK: 11,
  RENAME: 12,
  MKDIR: 13,
  FTRUNCATE: 14,
  TIMEOUT: 15,
  CANCEL: 16,
  SOCKET: 17,
  BIND: 18,
  LISTEN: 19,
  ACCEPT: 20,
  CONNECT: 21,
  RECV: 22,
  SEND: 23,
  SHUTDOWN: 24,
  SETSOCKOPT: 25,
  GETSOCKNAME: 26,
  RECVFROM: 27,
  SENDTO: 28,
  POLL: 29,
  ACCEPT_MULTI: 30,
  RECV_MULTI: 31,
} as const;
/** One of the {@link Opcode} values. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];
/** How many opcodes there are (PROACTOR_OP_COUNT): every opcode is below it. */
export const OPCODE_COUNT = 32;

/**
 * Submission entry flag: the next entry starts only once this one succeeded; an error or a
 * short read/write completes every later entry of the chain with ECANCELED. A chain is never
 * split across two submit() calls.
 */
export const SQE_F_LINK = 0x01;
/** stat's op_flags: do not follow a final symbolic link (lstat). */
export const STAT_F_NOFOLLOW = 0x01;
/** unlink's op_flags: remove a directory (rmdir). */
export const UNLINK_F_DIR = 0x01;
/** Completion flag: more completions follow for this slot (a multishot item, not the final one). */
export const CQE_F_MORE = 0x01;
/** Completion flag: the entry's `buffer` field names the provided buffer that holds the data. */
export const CQE_F_BUFFER = 0x02;
/** send's op_flags: zero-copy send (a hint; completes once the buffer is released). */
export const SEND_F_ZEROCOPY = 0x01;

// Events of poll: portable values, not the platform's POLL* numbers. `Queue.poll(fd, events)`
// takes an OR of them and resolves with the events ready; ERR and HUP are reported whether asked
// for or not.
/** poll event: data can be read (or a connection accepted) without waiting. */
export const POLL_IN = 0x01;
/** poll event: data can be sent without waiting. */
export const POLL_OUT = 0x04;
/** poll event: the socket has an error pending (always reported). */
export const POLL_ERR = 0x08;
/** poll event: hung up: both directions are shut down or the peer closed (always reported). */
export const POLL_HUP = 0x10;
/** poll event: the peer shut its writing side down (reading returns the end of stream). */
export const POLL_RDHUP = 0x20;

// Address families of the socket opcode's op_flags and of the address area's family byte:
// portable values, not the platform's AF_* numbers.
/** Address family: no address (an empty record in the address area). */
export const AF_NONE = 0;
/** Address family: unix domain socket, addressed by path. */
export const AF_UNIX = 1;
/** Address family: IPv4. */
export const AF_INET = 4;
/** Address family: IPv6. */
export const AF_INET6 = 6;
/** Socket type (the socket opcode's mode): a byte stream (TCP, unix stream sockets). */
export const SOCK_STREAM = 1;
/** Socket type (the socket opcode's mode): datagrams (UDP). */
export const SOCK_DGRAM = 2;
/** shutdown's op_flags: stop receiving. */
export const SHUT_RD = 0;
/** shutdown's op_flags: stop sending (the peer reads the end of stream). */
export const SHUT_WR = 1;
/** shutdown's op_flags: stop both. */
export const SHUT_RDWR = 2;
/** setsockopt's op_flags: SO_REUSEADDR; the value (0 or 1) is in the entry's len. */
export const SO_REUSEADDR = 1;
/** setsockopt's op_flags: SO_REUSEPORT; the value (0 or 1) is in the entry's len. */
export const SO_REUSEPORT = 2;
/** setsockopt's op_flags: TCP_NODELAY; the value (0 or 1) is in the entry's len. */
export const SO_NODELAY = 3;
/** setsockopt's op_flags: SO_KEEPALIVE; the value (0 or 1) is in the entry's len. */
export const SO_KEEPALIVE = 4;

/** Bytes of one slot's record in the address area. */
export const ADDRESS_SIZE = 144;
/**
 * Most bytes of a unix socket path given to bind, connect or sendto: Linux's sun_path (108 bytes)
 * less its terminating NUL. The record's path field runs to the end of the record, so a path the
 * kernel reports (an abstract name may use all 108 bytes) fits whole.
 */
export const ADDRESS_PATH_MAX = 107;

/** Byte offsets of the fields of an address record (struct proactor_address). */
export const AddressOffset = {
  family: 0,
  port: 2,
  flowinfo: 4,
  scope_id: 8,
  addr: 12,
  path_len: 28,
  path: 30,
} as const;

/** Byte offsets of the submission entry's fields. */
export const SqeOffset = {
  opcode: 0,
  flags: 1,
  fd: 4,
  offset: 8,
  buf_offset: 16,
  len: 24,
  slot: 28,
  op_flags: 32,
  mode: 36,
  target: 40,
  timeout_ns: 48,
} as const;

/** Byte offsets of the completion entry's fields. */
export const CqeOffset = {
  slot: 0,
  flags: 4,
  result: 8,
  buffer: 12,
} as const;

/** Index of each field in a slot's stat record (Float64Array). */
export const StatField = {
  DEV: 0,
  MODE: 1,
  NLINK: 2,
  UID: 3,
  GID: 4,
  RDEV: 5,
  BLKSIZE: 6,
  INO: 7,
  SIZE: 8,
  BLOCKS: 9,
  ATIME_SEC: 10,
  ATIME_NSEC: 11,
  MTIME_SEC: 12,
  MTIME_NSEC: 13,
  CTIME_SEC: 14,
  CTIME_NSEC: 15,
  BIRTHTIME_SEC: 16,
  BIRTHTIME_NSEC: 17,
} as const;

/** One decoded submission entry: what a backend written in TypeScript works from. */
export interface Submission {
  opcode: Opcode;
  flags: number;
  fd: number;
  /** File position; -1 means the file's current position. */
  offset: number;
  bufOffset: number;
  len: number;
  slot: number;
  opFlags: number;
  mode: number;
  target: number;
  timeoutNs: number;
}

const TWO32 = 0x1_0000_0000;

/** Reads submission entry `index` from `u32` (a Uint32Array over the submission buffer). */
export function decodeSubmission(u32: Uint32Array, index: number): Submission {
  const b = index * (SQE_SIZE / 4);
  const head = u32[b];
  const offLo = u32[b + 2];
  const offHi = u32[b + 3];
  return {
    opcode: (head & 0xff) as Opcode,
    flags: (head >>> 8) & 0xff,
    fd: u32[b + 1] | 0,
    offset: offHi === 0xffffffff && offLo === 0xffffffff ? -1 : offHi * TWO32 + offLo,
    bufOffset: u32[b + 5] * TWO32 + u32[b + 4],
    len: u32[b + 6],
    slot: u32[b + 7],
    opFlags: u32[b + 8],
    mode: u32[b + 9],
    target: u32[b + 10],
    timeoutNs: u32[b + 13] * TWO32 + u32[b + 12],
  };
}

/** Writes completion entry `index` into `i32` (an Int32Array over the completion buffer). */
export function encodeCompletion(
  i32: Int32Array,
  index: number,
  slot: number,
  result: number,
  flags = 0,
  buffer = 0,
): void {
  const b = index * (CQE_SIZE / 4);
  i32[b] = slot | 0;
  i32[b + 1] = flags;
  i32[b + 2] = result;
  i32[b + 3] = buffer;
}
