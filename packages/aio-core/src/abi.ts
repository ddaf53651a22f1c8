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
 * capability: one request, many completions flagged {@link CQE_F_MORE}. Below, fd, offset, len,
 * buf_offset, op_flags, mode, target and timeout_ns are the entry's fields ({@link SqeOffset});
 * res0 and res1 are the operation's resources, at index 2 * slot and 2 * slot + 1 of the
 * resource table; a result is the completion's value, or a negative errno on failure.
 */
export const Opcode = {
  /** Does nothing. Result 0. */
  NOP: 0,
  /** Opens path res0 with op_flags = the O_* flags and mode. Result: the new fd. */
  OPEN: 1,
  /** Closes fd. Result 0. */
  CLOSE: 2,
  /** Reads len bytes from fd at offset into buffer res0 at buf_offset. Result: bytes read. */
  READ: 3,
  /** Writes len bytes of buffer res0 from buf_offset to fd at offset. Result: bytes written. */
  WRITE: 4,
  /**
   * Reads from fd at offset into the buffer array res0; len = the buffer count. Result: bytes
   * read.
   */
  READV: 5,
  /**
   * Writes the buffer array res0 to fd at offset; len = the buffer count. Result: bytes written.
   */
  WRITEV: 6,
  /** Flushes fd's data and metadata. Result 0. */
  FSYNC: 7,
  /** Flushes fd's data. Result 0. */
  FDATASYNC: 8,
  /**
   * Stats path res0 (op_flags {@link STAT_F_NOFOLLOW}: lstat) into the slot's stat record. Result
   * 0.
   */
  STAT: 9,
  /** Stats fd into the slot's stat record. Result 0. */
  FSTAT: 10,
  /** Removes path res0 (op_flags {@link UNLINK_F_DIR}: rmdir). Result 0. */
  UNLINK: 11,
  /** Renames path res0 to path res1. Result 0. */
  RENAME: 12,
  /** Creates directory res0 with mode. Result 0. */
  MKDIR: 13,
  /** Sets fd's size to offset bytes. Result 0. */
  FTRUNCATE: 14,
  /** Completes after timeout_ns nanoseconds. Result 0 when it expired. */
  TIMEOUT: 15,
  /**
   * Cancels the operation in slot target; its own slot is {@link SLOT_NONE}. Result 0, or an
   * error.
   */
  CANCEL: 16,
  /**
   * Creates a socket: op_flags = an AF_* family of this file, mode = a SOCK_* type. Result: the
   * fd.
   */
  SOCKET: 17,
  /** Binds fd to the address in the slot's address record. Result 0. */
  BIND: 18,
  /** Listens on fd with backlog len. Result 0. */
  LISTEN: 19,
  /**
   * Accepts a connection on fd; the peer's address into the slot's address record. Result: the
   * new fd.
   */
  ACCEPT: 20,
  /** Connects fd to the address in the slot's address record. Result 0. */
  CONNECT: 21,
  /**
   * Receives up to len bytes from fd into buffer res0 at buf_offset. Result: bytes received, 0
   * when the peer shut its side down.
   */
  RECV: 22,
  /**
   * Sends len bytes of buffer res0 from buf_offset on fd (op_flags {@link SEND_F_ZEROCOPY}:
   * without copying). Result: bytes sent.
   */
  SEND: 23,
  /** Shuts fd down: op_flags = a SHUT_* value. Result 0. */
  SHUTDOWN: 24,
  /** Sets option op_flags (an SO_* value of this file) of fd to len (0 or 1). Result 0. */
  SETSOCKOPT: 25,
  /** Writes fd's local address into the slot's address record. Result 0. */
  GETSOCKNAME: 26,
  /**
   * Receives one datagram into buffer res0 at buf_offset, at most len bytes (a longer one is
   * truncated); the sender's address into the slot's address record. Result: bytes copied.
   */
  RECVFROM: 27,
  /**
   * Sends len bytes of buffer res0 from buf_offset to the address in the slot's address record.
   * Result: bytes sent.
   */
  SENDTO: 28,
  /**
   * Waits until fd has one of the POLL_* events in op_flags. Result: the events ready; {@link
   * POLL_ERR} and {@link POLL_HUP} come whether asked for or not.
   */
  POLL: 29,
  /**
   * Multishot accept on fd: each item (flagged {@link CQE_F_MORE}) is a new fd, the peer's
   * address in the slot's address record while that completion is handed over (a batch holds at
   * most one item per slot).
   */
  ACCEPT_MULTI: 30,
  /**
   * Multishot receive on fd into the provided buffers: each item is a byte count in the buffer
   * its completion names ({@link CQE_F_BUFFER}), readable only during the complete() call that
   * hands it over. The final result is 0 (peer shut its side down), an error, or ENOBUFS
   * (receiving stopped: start it again).
   */
  RECV_MULTI: 31,
  /**
   * Sends len bytes of file fd_in from position offset (the input's own position does not move)
   * to fd (a socket, or a regular file where the platform allows). Result: bytes sent, fewer at
   * the end of the input or when the output failed after some went out; ECANCELED when cancelled
   * or closed through the queue while it runs.
   */
  SENDFILE: 32,
} as const;
/** One of the {@link Opcode} values. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];
/** How many opcodes there are (PROACTOR_OP_COUNT): every opcode is below it. */
export const OPCODE_COUNT = 33;

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
  /** u8: an AF_* value of this file; {@link AF_NONE} for no address. */
  family: 0,
  /** u16: the port, little-endian like every field (not network order). */
  port: 2,
  /** u32: IPv6 flow information. */
  flowinfo: 4,
  /** u32: IPv6 scope (interface index). */
  scope_id: 8,
  /** 16 bytes: the address in network order; IPv4 in the first 4. */
  addr: 12,
  /** u16: bytes of `path` in use (unix); no terminating NUL. */
  path_len: 28,
  /**
   * The unix socket path, to the end of the record: at most {@link ADDRESS_PATH_MAX} bytes from
   * JavaScript, a whole sun_path (108) from the kernel.
   */
  path: 30,
} as const;

/** Byte offsets of the submission entry's fields. */
export const SqeOffset = {
  /** u8: an {@link Opcode}. */
  opcode: 0,
  /** u8: SQE_F_* flags ({@link SQE_F_LINK}). */
  flags: 1,
  /** i32: the descriptor operated on. */
  fd: 4,
  /** i64: file position in bytes; -1 = the file's current position. ftruncate: the new length. */
  offset: 8,
  /** u64: byte offset into buffer res0 (read, write, recv, send, recvfrom, sendto). */
  buf_offset: 16,
  /**
   * u32: bytes (read, write, recv, send), buffer count (readv, writev), backlog (listen), value
   * (setsockopt).
   */
  len: 24,
  /**
   * u32: index into the queue's slot table, echoed by the completion; {@link SLOT_NONE} for a
   * cancel.
   */
  slot: 28,
  /**
   * u32: per-opcode flags (open's O_* flags, STAT_F_*, UNLINK_F_*, AF_*, SHUT_*, SO_*, POLL_*,
   * SEND_F_*).
   */
  op_flags: 32,
  /** u32: permission bits (open, mkdir); the SOCK_* type (socket). */
  mode: 36,
  /** u32: the slot to cancel (cancel). */
  target: 40,
  /** i32: the input descriptor (sendfile). */
  fd_in: 44,
  /** u64: nanoseconds (timeout). */
  timeout_ns: 48,
} as const;

/** Byte offsets of the completion entry's fields. */
export const CqeOffset = {
  /** u32: the slot of the operation completed. */
  slot: 0,
  /** u32: CQE_F_* flags. */
  flags: 4,
  /** i32: the value (bytes, fd, 0, poll events) or a negative errno. */
  result: 8,
  /** u32: the provided buffer holding the data, with {@link CQE_F_BUFFER}; else 0. */
  buffer: 12,
} as const;

/** Index of each field in a slot's stat record (Float64Array). */
export const StatField = {
  /** st_dev: the device holding the file. */
  DEV: 0,
  /** st_mode: file type and permission bits. */
  MODE: 1,
  /** st_nlink: hard links. */
  NLINK: 2,
  /** st_uid: owner user ID. */
  UID: 3,
  /** st_gid: owner group ID. */
  GID: 4,
  /** st_rdev: the device, for device files. */
  RDEV: 5,
  /** st_blksize: preferred I/O block size, bytes. */
  BLKSIZE: 6,
  /** st_ino: inode number. */
  INO: 7,
  /** st_size: bytes. */
  SIZE: 8,
  /** st_blocks: allocated 512-byte blocks. */
  BLOCKS: 9,
  /** last access: whole seconds since the Unix epoch. */
  ATIME_SEC: 10,
  /** last access: nanoseconds within that second. */
  ATIME_NSEC: 11,
  /** last data modification: whole seconds since the Unix epoch. */
  MTIME_SEC: 12,
  /** last data modification: nanoseconds within that second. */
  MTIME_NSEC: 13,
  /** last inode change: whole seconds since the Unix epoch. */
  CTIME_SEC: 14,
  /** last inode change: nanoseconds within that second. */
  CTIME_NSEC: 15,
  /** creation (0 where not recorded): whole seconds since the Unix epoch. */
  BIRTHTIME_SEC: 16,
  /** creation (0 where not recorded): nanoseconds within that second. */
  BIRTHTIME_NSEC: 17,
} as const;

/** One decoded submission entry: what a backend written in TypeScript works from. */
export interface Submission {
  /** The operation. */
  opcode: Opcode;
  /** SQE_F_* flags. */
  flags: number;
  /** The descriptor operated on. */
  fd: number;
  /** File position; -1 means the file's current position. */
  offset: number;
  /** Byte offset into buffer res0. */
  bufOffset: number;
  /** Bytes, buffer count, backlog or option value, by opcode (see {@link SqeOffset}). */
  len: number;
  /** The slot to complete: pass it to {@link encodeCompletion}. */
  slot: number;
  /** Per-opcode flags. */
  opFlags: number;
  /** Permission bits (open, mkdir) or socket type (socket). */
  mode: number;
  /** The slot to cancel (cancel). */
  target: number;
  /** The input descriptor (sendfile). */
  fdIn: number;
  /** Nanoseconds (timeout); exact up to 2^53. */
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
    fdIn: u32[b + 11] | 0,
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
