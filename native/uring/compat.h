/*
 * Constants newer than the <linux/io_uring.h> a build machine may have. The values are the
 * kernel's ABI and never change; whether the *running* kernel supports them is probed at
 * run time (IORING_REGISTER_PROBE, io_uring_params.features), never assumed.
 */
#ifndef PROACTOR_URING_COMPAT_H
#define PROACTOR_URING_COMPAT_H

#include <linux/io_uring.h>

#include <cstdint>

/* Linux 6.9. */
#define PROACTOR_IORING_OP_FTRUNCATE 55u

/* Linux 6.11. */
#define PROACTOR_IORING_OP_BIND 56u
#define PROACTOR_IORING_OP_LISTEN 57u

/* Linux 5.19 (IORING_OP_SOCKET), 5.11 (IORING_OP_SHUTDOWN). */
#define PROACTOR_IORING_OP_SOCKET 45u
#define PROACTOR_IORING_OP_SHUTDOWN 34u

/* Linux 5.18: keep submitting the rest of a batch after an SQE fails. */
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif

/* Linux 5.11. */
#ifndef IORING_ENTER_EXT_ARG
#define IORING_ENTER_EXT_ARG (1U << 3)
#endif
#ifndef IORING_FEAT_EXT_ARG
#define IORING_FEAT_EXT_ARG (1U << 8)
#endif

/* Linux 5.6. */
#ifndef IORING_FEAT_CUR_PERSONALITY
#define IORING_FEAT_CUR_PERSONALITY (1U << 4)
#endif
#define PROACTOR_IORING_REGISTER_PERSONALITY 9u
#define PROACTOR_IORING_UNREGISTER_PERSONALITY 10u

/* Linux 5.11: SQPOLL without fixed files and without CAP_SYS_ADMIN. */
#ifndef IORING_FEAT_SQPOLL_NONFIXED
#define IORING_FEAT_SQPOLL_NONFIXED (1U << 7)
#endif

/* Linux 5.13 (io_uring_register opcodes), 5.19 (IORING_RSRC_REGISTER_SPARSE). */
#define PROACTOR_IORING_REGISTER_FILES2 13u
#define PROACTOR_IORING_REGISTER_FILES_UPDATE2 14u
#define PROACTOR_IORING_REGISTER_BUFFERS2 15u
#define PROACTOR_IORING_REGISTER_BUFFERS_UPDATE 16u
#define PROACTOR_IORING_RSRC_REGISTER_SPARSE (1U << 0)

/* Linux 6.0: zero-copy send, multishot recv; 5.19: multishot accept, cancel by fd, provided
 * buffer rings. (IORING_CQE_F_MORE is 5.13, IORING_CQE_F_BUFFER and IOSQE_BUFFER_SELECT 5.7.) */
#define PROACTOR_IORING_OP_SEND_ZC 47u
#define PROACTOR_IORING_CQE_F_BUFFER (1U << 0)
#define PROACTOR_IORING_CQE_F_MORE (1U << 1)
#define PROACTOR_IORING_CQE_F_NOTIF (1U << 3)
#define PROACTOR_IORING_CQE_BUFFER_SHIFT 16
#define PROACTOR_IOSQE_BUFFER_SELECT (1U << 5)
#define PROACTOR_IORING_RECV_MULTISHOT (1U << 1)
#define PROACTOR_IORING_ACCEPT_MULTISHOT (1U << 0)
#define PROACTOR_IORING_ASYNC_CANCEL_ALL (1U << 0)
#define PROACTOR_IORING_ASYNC_CANCEL_FD (1U << 1)
#define PROACTOR_IORING_REGISTER_PBUF_RING 22u
#define PROACTOR_IORING_UNREGISTER_PBUF_RING 23u

namespace proactor {

/* struct io_uring_buf and io_uring_buf_reg of Linux 5.19. A buffer ring is an array of
 * io_uring_buf whose first entry's last 16 bits (resv) are the ring's tail. */
struct PbufEntry {
  uint64_t addr;
  uint32_t len;
  uint16_t bid;
  uint16_t resv;
};
static_assert(sizeof(PbufEntry) == 16, "io_uring_buf is 16 bytes");

struct PbufRegister {
  uint64_t ring_addr;
  uint32_t ring_entries;
  uint16_t bgid;
  uint16_t flags;
  uint64_t resv[3];
};
static_assert(sizeof(PbufRegister) == 40, "io_uring_buf_reg is 40 bytes");

/* struct io_uring_rsrc_register and io_uring_rsrc_update2 of Linux 5.13, spelled out so that
 * an older <linux/io_uring.h> still builds. */
struct RsrcRegister {
  uint32_t nr;
  uint32_t flags;
  uint64_t resv2;
  alignas(8) uint64_t data;
  alignas(8) uint64_t tags;
};
static_assert(sizeof(RsrcRegister) == 32, "io_uring_rsrc_register is 32 bytes");

struct RsrcUpdate2 {
  uint32_t offset;
  uint32_t resv;
  alignas(8) uint64_t data;
  alignas(8) uint64_t tags;
  uint32_t nr;
  uint32_t resv2;
};
static_assert(sizeof(RsrcUpdate2) == 32, "io_uring_rsrc_update2 is 32 bytes");

}  // namespace proactor

#endif  // PROACTOR_URING_COMPAT_H
