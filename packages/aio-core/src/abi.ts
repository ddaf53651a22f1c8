/**
 * TypeScript mirror of native/include/proactor/abi.h, the entry layout shared by aio-core and
 * every backend. test/abi.test.ts parses the header and fails when the two disagree.
 */

export const ABI_VERSION = 1;

export const SQE_SIZE = 64;
export const CQE_SIZE = 16;
export const STAT_FIELDS = 18;
export const SLOT_NONE = 0xffffffff;
export const IOV_MAX = 1024;

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
export type Opcode = (typeof Opcode)[keyof typeof Opcode];
export const OPCODE_COUNT = 32;

export const SQE_F_LINK = 0x01;
export const STAT_F_NOFOLLOW = 0x01;
export const UNLINK_F_DIR = 0x01;
export const CQE_F_MORE = 0x01;
export const CQE_F_BUFFER = 0x02;
/** send's op_flags: zero-copy send (a hint; completes once the buffer is released). */
export const SEND_F_ZEROCOPY = 0x01;

/** Events of poll (portable values). */
export const POLL_IN = 0x01;
export const POLL_OUT = 0x04;
export const POLL_ERR = 0x08;
export const POLL_HUP = 0x10;
export const POLL_RDHUP = 0x20;

/** Portable address families (socket's op_flags and the address area's family byte). */
export const AF_NONE = 0;
export const AF_UNIX = 1;
export const AF_INET = 4;
export const AF_INET6 = 6;
/** Socket types (socket's mode). */
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
/** shutdown's op_flags. */
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
/** setsockopt's op_flags; the value is in len. */
export const SO_REUSEADDR = 1;
export const SO_REUSEPORT = 2;
export const SO_NODELAY = 3;
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
