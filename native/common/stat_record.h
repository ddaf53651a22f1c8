/*
 * Filling a slot's stat record (abi.h, proactor_stat_field) from the platform's StatBuffer
 * (platform.h), the way libuv fills uv_stat_t (src/unix/fs.c):
 * - Linux, statx (uv__fs_statx): dev and rdev from their major/minor halves, and birthtime
 *   copied from stx_btime whether or not STATX_BTIME is in stx_mask (the kernel zeroes it when
 *   the file system has none, so Node reports the epoch).
 * - Other POSIX systems, struct stat (uv__to_stat): birthtime from st_birthtimespec where the
 *   system has one (macOS, the BSDs), else the change time, as libuv reports it.
 * - Windows: win/calls.cc fills StatBuffer (win/platform.h) field by field from the file's
 *   information, as libuv does (fs__stat_handle); this copies it.
 */
#ifndef PROACTOR_COMMON_STAT_RECORD_H
#define PROACTOR_COMMON_STAT_RECORD_H

#include "platform.h"
#include "proactor/abi.h"

#ifdef PROACTOR_HAVE_STATX
#include <sys/sysmacros.h>
#endif

namespace proactor {

#if defined(_WIN32)

inline void FillStatRecord(double* out, const StatBuffer& s) {
  out[PROACTOR_STAT_DEV] = static_cast<double>(s.dev);
  out[PROACTOR_STAT_MODE] = static_cast<double>(s.mode);
  out[PROACTOR_STAT_NLINK] = static_cast<double>(s.nlink);
  out[PROACTOR_STAT_UID] = static_cast<double>(s.uid);
  out[PROACTOR_STAT_GID] = static_cast<double>(s.gid);
  out[PROACTOR_STAT_RDEV] = static_cast<double>(s.rdev);
  out[PROACTOR_STAT_BLKSIZE] = static_cast<double>(s.blksize);
  out[PROACTOR_STAT_INO] = static_cast<double>(s.ino);
  out[PROACTOR_STAT_SIZE] = static_cast<double>(s.size);
  out[PROACTOR_STAT_BLOCKS] = static_cast<double>(s.blocks);
  out[PROACTOR_STAT_ATIME_SEC] = static_cast<double>(s.atime.sec);
  out[PROACTOR_STAT_ATIME_NSEC] = static_cast<double>(s.atime.nsec);
  out[PROACTOR_STAT_MTIME_SEC] = static_cast<double>(s.mtime.sec);
  out[PROACTOR_STAT_MTIME_NSEC] = static_cast<double>(s.mtime.nsec);
  out[PROACTOR_STAT_CTIME_SEC] = static_cast<double>(s.ctime.sec);
  out[PROACTOR_STAT_CTIME_NSEC] = static_cast<double>(s.ctime.nsec);
  out[PROACTOR_STAT_BIRTHTIME_SEC] = static_cast<double>(s.birthtime.sec);
  out[PROACTOR_STAT_BIRTHTIME_NSEC] = static_cast<double>(s.birthtime.nsec);
}

#elif defined(PROACTOR_HAVE_STATX)

/* The statx mask libuv asks for: STATX_BASIC_STATS | STATX_BTIME. */
constexpr unsigned kStatxMask = STATX_BASIC_STATS | STATX_BTIME;

inline void FillStatRecord(double* out, const StatBuffer& s) {
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

#else

inline void FillStatRecord(double* out, const StatBuffer& s) {
#if defined(__APPLE__)
  const struct timespec& atime = s.st_atimespec;
  const struct timespec& mtime = s.st_mtimespec;
  const struct timespec& ctime = s.st_ctimespec;
  const struct timespec& birthtime = s.st_birthtimespec;
#elif defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
  const struct timespec& atime = s.st_atim;
  const struct timespec& mtime = s.st_mtim;
  const struct timespec& ctime = s.st_ctim;
  const struct timespec& birthtime = s.st_birthtim;
#else
  const struct timespec& atime = s.st_atim;
  const struct timespec& mtime = s.st_mtim;
  const struct timespec& ctime = s.st_ctim;
  const struct timespec& birthtime = s.st_ctim;
#endif
  out[PROACTOR_STAT_DEV] = static_cast<double>(s.st_dev);
  out[PROACTOR_STAT_MODE] = s.st_mode;
  out[PROACTOR_STAT_NLINK] = static_cast<double>(s.st_nlink);
  out[PROACTOR_STAT_UID] = s.st_uid;
  out[PROACTOR_STAT_GID] = s.st_gid;
  out[PROACTOR_STAT_RDEV] = static_cast<double>(s.st_rdev);
  out[PROACTOR_STAT_BLKSIZE] = static_cast<double>(s.st_blksize);
  out[PROACTOR_STAT_INO] = static_cast<double>(s.st_ino);
  out[PROACTOR_STAT_SIZE] = static_cast<double>(s.st_size);
  out[PROACTOR_STAT_BLOCKS] = static_cast<double>(s.st_blocks);
  out[PROACTOR_STAT_ATIME_SEC] = static_cast<double>(atime.tv_sec);
  out[PROACTOR_STAT_ATIME_NSEC] = static_cast<double>(atime.tv_nsec);
  out[PROACTOR_STAT_MTIME_SEC] = static_cast<double>(mtime.tv_sec);
  out[PROACTOR_STAT_MTIME_NSEC] = static_cast<double>(mtime.tv_nsec);
  out[PROACTOR_STAT_CTIME_SEC] = static_cast<double>(ctime.tv_sec);
  out[PROACTOR_STAT_CTIME_NSEC] = static_cast<double>(ctime.tv_nsec);
  out[PROACTOR_STAT_BIRTHTIME_SEC] = static_cast<double>(birthtime.tv_sec);
  out[PROACTOR_STAT_BIRTHTIME_NSEC] = static_cast<double>(birthtime.tv_nsec);
}

#endif  // _WIN32, PROACTOR_HAVE_STATX

}  // namespace proactor

#endif  // PROACTOR_COMMON_STAT_RECORD_H
