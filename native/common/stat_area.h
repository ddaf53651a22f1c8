/*
 * Filling a slot's stat record (abi.h, proactor_stat_field) from a Linux statx result, the
 * way libuv fills uv_stat_t from statx (src/unix/fs.c, uv__fs_statx): dev and rdev from their
 * major/minor halves, and birthtime copied from stx_btime whether or not STATX_BTIME is in
 * stx_mask (the kernel zeroes it when the file system has none, so Node reports the epoch).
 */
#ifndef PROACTOR_COMMON_STAT_AREA_H
#define PROACTOR_COMMON_STAT_AREA_H

#ifdef __linux__

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "proactor/abi.h"

namespace proactor {

/* The statx mask libuv asks for: STATX_BASIC_STATS | STATX_BTIME. */
constexpr unsigned kStatxMask = STATX_BASIC_STATS | STATX_BTIME;

inline void FillStatRecord(double* out, const struct statx& s) {
  out[PROACTOR_STAT_DEV] = static_cast<double>(makedev(s.stx_dev_major, s.stx_dev_minor));
  out[PROACTOR_STAT_MODE] = s.stx_mode;
  out[PROACTOR_STAT_NLINK] = s.stx_nlink;
  out[PROACTOR_STAT_UID] = s.stx_uid;
  out[PROACTOR_STAT_GID] = s.stx_gid;
  out[PROACTOR_STAT_RDEV] = static_cast<double>(makedev(s.stx_rdev_major, s.stx_rdev_minor));
  out[PROACTOR_STAT_BLKSIZE] = s.stx_blksize;
  out[PROACTOR_STAT_INO] = static_cast<double>(s.stx_ino);
  out[PROACTOR_STAT_SIZE] = static_cast<double>(s.stx_size);
  out[PROACTOR_STAT_BLOCKS] = static_cast<double>(s.stx_blocks);
  out[PROACTOR_STAT_ATIME_SEC] = static_cast<double>(s.stx_atime.tv_sec);
  out[PROACTOR_STAT_ATIME_NSEC] = s.stx_atime.tv_nsec;
  out[PROACTOR_STAT_MTIME_SEC] = static_cast<double>(s.stx_mtime.tv_sec);
  out[PROACTOR_STAT_MTIME_NSEC] = s.stx_mtime.tv_nsec;
  out[PROACTOR_STAT_CTIME_SEC] = static_cast<double>(s.stx_ctime.tv_sec);
  out[PROACTOR_STAT_CTIME_NSEC] = s.stx_ctime.tv_nsec;
  out[PROACTOR_STAT_BIRTHTIME_SEC] = static_cast<double>(s.stx_btime.tv_sec);
  out[PROACTOR_STAT_BIRTHTIME_NSEC] = s.stx_btime.tv_nsec;
}

}  // namespace proactor

#endif  // __linux__

#endif  // PROACTOR_COMMON_STAT_AREA_H
