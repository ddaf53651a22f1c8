import { constants } from 'node:fs';
import { StatField } from './abi.js';

const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFIFO } = constants;
// Not defined on Windows; the values are the POSIX ones.
const S_IFBLK = constants.S_IFBLK ?? 0o060000;
const S_IFSOCK = constants.S_IFSOCK ?? 0o140000;

function ms(sec: number, nsec: number): number {
  return sec * 1e3 + nsec / 1e6;
}

/** The result of stat/lstat/fstat: the fields and type tests of Node's fs.Stats. */
export class Stats {
  /** ID of the device holding the file. */
  dev: number;
  /** File type and permission bits (S_IFMT and 0o7777 parts), as st_mode. */
  mode: number;
  /** Number of hard links. */
  nlink: number;
  /** Owner user ID (0 on Windows). */
  uid: number;
  /** Owner group ID (0 on Windows). */
  gid: number;
  /** Device ID, for a character or block device file. */
  rdev: number;
  /** Preferred block size for I/O, in bytes. */
  blksize: number;
  /** Inode number. A double: exact up to 2^53, as in Node's non-bigint Stats. */
  ino: number;
  /** Size in bytes (of the link itself for a symbolic link from `lstat()`). */
  size: number;
  /** Allocated 512-byte blocks. */
  blocks: number;
  /** Last access time, in milliseconds since the Unix epoch (with a fraction: nanoseconds / 1e6). */
  atimeMs: number;
  /** Last modification of the data, in milliseconds since the Unix epoch. */
  mtimeMs: number;
  /** Last change of the inode (permissions, links, data), in milliseconds since the Unix epoch. */
  ctimeMs: number;
  /** Creation time, in milliseconds since the Unix epoch; 0 where the file system does not record it. */
  birthtimeMs: number;

  /** Reads the stat record at `index` of a stat area (see abi.h, proactor_stat_field). */
  constructor(area: Float64Array, index: number) {
    const b = index;
    this.dev = area[b + StatField.DEV];
    this.mode = area[b + StatField.MODE];
    this.nlink = area[b + StatField.NLINK];
    this.uid = area[b + StatField.UID];
    this.gid = area[b + StatField.GID];
    this.rdev = area[b + StatField.RDEV];
    this.blksize = area[b + StatField.BLKSIZE];
    this.ino = area[b + StatField.INO];
    this.size = area[b + StatField.SIZE];
    this.blocks = area[b + StatField.BLOCKS];
    this.atimeMs = ms(area[b + StatField.ATIME_SEC], area[b + StatField.ATIME_NSEC]);
    this.mtimeMs = ms(area[b + StatField.MTIME_SEC], area[b + StatField.MTIME_NSEC]);
    this.ctimeMs = ms(area[b + StatField.CTIME_SEC], area[b + StatField.CTIME_NSEC]);
    this.birthtimeMs = ms(area[b + StatField.BIRTHTIME_SEC], area[b + StatField.BIRTHTIME_NSEC]);
  }

  /** `atimeMs` as a Date (millisecond precision). */
  get atime(): Date {
    return new Date(this.atimeMs);
  }
  /** `mtimeMs` as a Date (millisecond precision). */
  get mtime(): Date {
    return new Date(this.mtimeMs);
  }
  /** `ctimeMs` as a Date (millisecond precision). */
  get ctime(): Date {
    return new Date(this.ctimeMs);
  }
  /** `birthtimeMs` as a Date (millisecond precision). */
  get birthtime(): Date {
    return new Date(this.birthtimeMs);
  }

  /** True for a regular file. */
  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  /** True for a directory. */
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  /** True for a symbolic link: only from `lstat()`, as `stat()` and `fstat()` follow links. */
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
  /** True for a character device (a tty, /dev/null, ...). */
  isCharacterDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFCHR;
  }
  /** True for a block device (a disk). */
  isBlockDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFBLK;
  }
  /** True for a FIFO (a named or anonymous pipe). */
  isFIFO(): boolean {
    return (this.mode & S_IFMT) === S_IFIFO;
  }
  /** True for a socket (a unix socket's file, or an fstat of a socket descriptor). */
  isSocket(): boolean {
    return (this.mode & S_IFMT) === S_IFSOCK;
  }
}
