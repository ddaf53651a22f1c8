/*
 * Running a prepared io_uring SQE as the equivalent blocking system call, on a BlockingPool
 * thread, for kernels that lack the opcode (IORING_REGISTER_PROBE said so). Only the opcodes
 * UringEngine prepares are handled; timeouts are never run this way (IORING_OP_TIMEOUT exists
 * since Linux 5.4, older than any kernel with the opcodes we need).
 */
#ifndef PROACTOR_URING_BLOCKING_H
#define PROACTOR_URING_BLOCKING_H

#include <linux/io_uring.h>

#include <cstdint>

namespace proactor {

/* The result the kernel would have posted: >= 0, or -errno. */
int64_t RunBlocking(const io_uring_sqe& sqe);

}  // namespace proactor

#endif  // PROACTOR_URING_BLOCKING_H
