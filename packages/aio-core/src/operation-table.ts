/**
 * The facts of each opcode that TypeScript relies on, in one table: what the queue checks in
 * `capabilities.ops`, the syscall its errors name, what its result becomes, and the traits a
 * TypeScript backend needs (which operations transfer bytes, which are socket operations).
 * Native backends carry the same facts in native/common/operation.h; every native backend's
 * test compares its addon's `operations()` table with this one (aio-conformance's
 * `operationTableDifferences`).
 */
import { Opcode } from './abi.js';
import type { OperationName } from './backend.js';

/**
 * What the queue makes of a result that is not an error: the number itself ('count': bytes, a
 * descriptor, poll events), nothing ('none'), a Stats ('stats'), a socket address ('address'),
 * `{ fd, address }` ('accept') or `{ bytes, address }` ('datagram').
 */
export type ResultKind = 'count' | 'none' | 'stats' | 'address' | 'accept' | 'datagram';

/** One opcode's facts. The traits have the meaning and the names of the native table's. */
export interface OperationFacts {
  /** The {@link Opcode} value. */
  readonly opcode: Opcode;
  /** Its {@link Opcode} key in lower case ('read', 'accept_multi'), as the native table names it. */
  readonly name: string;
  /**
   * The name `capabilities.ops` lists for it (a multishot opcode needs its single form's:
   * 'accept', 'recv'). lstat and rmdir are the flagged forms of stat and unlink.
   */
  readonly operation: OperationName;
  /**
   * The syscall its errors name, as Node's would: 'read' for recv, 'write' for send, 'recvmsg'
   * for recvfrom (node:net and node:dgram name them so), not the system call a backend makes.
   */
  readonly syscall: string;
  /** What a result that is not an error becomes. */
  readonly result: ResultKind;
  /** It moves `len` bytes (or its buffers' bytes): fewer is a short transfer, which breaks a chain. */
  readonly transfer: boolean;
  /** Its final completion leaves an address in the slot's address record. */
  readonly fillsAddress: boolean;
  /** It fills the slot's stat record. */
  readonly fillsStat: boolean;
  /** It may wait on its descriptor for as long as the peer likes (a close through the queue ends it). */
  readonly waitsOnDescriptor: boolean;
  /** A socket operation (listed in SOCKET_OPERATIONS, or a multishot one). */
  readonly socket: boolean;
  /** One request, many completions (CQE_F_MORE). */
  readonly multishot: boolean;
}

/**
 * One entry of a native addon's `operations()` table (native/common/operation_table.h), indexed
 * by opcode: the native side's copy of the traits of {@link OperationFacts}, which every native
 * package's tests compare with {@link OPERATION_TABLE}.
 */
export interface NativeOperation
  extends Pick<
    OperationFacts,
    'name' | 'transfer' | 'fillsAddress' | 'fillsStat' | 'waitsOnDescriptor' | 'socket' | 'multishot'
  > {
  /** The {@link Opcode} value; the table's index. */
  readonly opcode: number;
  /** The system call the addon makes for it ('openat', 'recvfrom'), not the one errors name. */
  readonly syscall: string;
  /** It never waits, so an engine may make it as a plain system call when it is launched. */
  readonly runsAtLaunch: boolean;
}

type Trait = 'transfer' | 'fillsAddress' | 'fillsStat' | 'waitsOnDescriptor' | 'socket' | 'multishot';

function facts(
  opcode: Opcode,
  operation: OperationName,
  syscall: string,
  result: ResultKind,
  traits: readonly Trait[] = [],
): OperationFacts {
  const name = Object.keys(Opcode)
    .find((key) => Opcode[key as keyof typeof Opcode] === opcode)!
    .toLowerCase();
  const has = (trait: Trait) => traits.includes(trait);
  return Object.freeze({
    opcode,
    name,
    operation,
    syscall,
    result,
    transfer: has('transfer'),
    fillsAddress: has('fillsAddress'),
    fillsStat: has('fillsStat'),
    waitsOnDescriptor: has('waitsOnDescriptor'),
    socket: has('socket'),
    multishot: has('multishot'),
  });
}

const WAITING_SOCKET: readonly Trait[] = ['socket', 'waitsOnDescriptor'];

/** Every opcode's facts, indexed by {@link Opcode}. */
export const OPERATION_TABLE: readonly OperationFacts[] = Object.freeze([
  facts(Opcode.NOP, 'nop', 'nop', 'none'),
  facts(Opcode.OPEN, 'open', 'open', 'count'),
  facts(Opcode.CLOSE, 'close', 'close', 'none'),
  facts(Opcode.READ, 'read', 'read', 'count', ['transfer']),
  facts(Opcode.WRITE, 'write', 'write', 'count', ['transfer']),
  facts(Opcode.READV, 'readv', 'read', 'count', ['transfer']),
  facts(Opcode.WRITEV, 'writev', 'write', 'count', ['transfer']),
  facts(Opcode.FSYNC, 'fsync', 'fsync', 'none'),
  facts(Opcode.FDATASYNC, 'fdatasync', 'fdatasync', 'none'),
  facts(Opcode.STAT, 'stat', 'stat', 'stats', ['fillsStat']),
  facts(Opcode.FSTAT, 'fstat', 'fstat', 'stats', ['fillsStat']),
  facts(Opcode.UNLINK, 'unlink', 'unlink', 'none'),
  facts(Opcode.RENAME, 'rename', 'rename', 'none'),
  facts(Opcode.MKDIR, 'mkdir', 'mkdir', 'none'),
  facts(Opcode.FTRUNCATE, 'ftruncate', 'ftruncate', 'none'),
  facts(Opcode.TIMEOUT, 'timeout', 'timeout', 'none'),
  facts(Opcode.CANCEL, 'cancel', 'cancel', 'none'),
  facts(Opcode.SOCKET, 'socket', 'socket', 'count', ['socket']),
  facts(Opcode.BIND, 'bind', 'bind', 'none', ['socket']),
  facts(Opcode.LISTEN, 'listen', 'listen', 'none', ['socket']),
  facts(Opcode.ACCEPT, 'accept', 'accept', 'accept', [...WAITING_SOCKET, 'fillsAddress']),
  facts(Opcode.CONNECT, 'connect', 'connect', 'none', WAITING_SOCKET),
  facts(Opcode.RECV, 'recv', 'read', 'count', [...WAITING_SOCKET, 'transfer']),
  facts(Opcode.SEND, 'send', 'write', 'count', [...WAITING_SOCKET, 'transfer']),
  facts(Opcode.SHUTDOWN, 'shutdown', 'shutdown', 'none', ['socket']),
  facts(Opcode.SETSOCKOPT, 'setsockopt', 'setsockopt', 'none', ['socket']),
  facts(Opcode.GETSOCKNAME, 'getsockname', 'getsockname', 'address', ['socket', 'fillsAddress']),
  facts(Opcode.RECVFROM, 'recvfrom', 'recvmsg', 'datagram', [...WAITING_SOCKET, 'transfer', 'fillsAddress']),
  facts(Opcode.SENDTO, 'sendto', 'send', 'count', [...WAITING_SOCKET, 'transfer']),
  facts(Opcode.POLL, 'poll', 'poll', 'count', WAITING_SOCKET),
  facts(Opcode.ACCEPT_MULTI, 'accept', 'accept', 'none', [...WAITING_SOCKET, 'multishot']),
  facts(Opcode.RECV_MULTI, 'recv', 'read', 'none', [...WAITING_SOCKET, 'multishot']),
  // Waits on its output, which may be a regular file as well as a socket: not a socket operation.
  facts(Opcode.SENDFILE, 'sendfile', 'sendfile', 'count', ['transfer', 'waitsOnDescriptor']),
]);
