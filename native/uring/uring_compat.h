/*
 * Constants newer than the <linux/io_uring.h> a build machine may have. The values are the
 * kernel's ABI and never change; whether the *running* kernel supports them is probed at
 * run time (IORING_REGISTER_PROBE, io_uring_params.features), never assumed.
 */
#ifndef PROACTOR_URING_COMPAT_H
#define PROACTOR_URING_COMPAT_H

#include <linux/io_uring.h>

/* Linux 6.9. */
#define PROACTOR_IORING_OP_FTRUNCATE 55u

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

#endif  // PROACTOR_URING_COMPAT_H
