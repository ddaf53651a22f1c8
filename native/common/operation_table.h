/*
 * The operation table as JavaScript sees it: each addon's operations(). One entry per proactor
 * opcode with its name, the system call it makes and every trait of kOperations (operation.h);
 * aio-conformance's operationTableDifferences() checks the entries against aio-core's
 * OPERATION_TABLE in each native package's tests. An engine adds the facts only it has to each
 * entry through `extend` (io_uring: the kernel opcode).
 */
#pragma once

#include <napi.h>

#include <cstdint>

namespace proactor {

using OperationEntryExtension = void (*)(Napi::Env env, Napi::Object entry, uint8_t opcode);

/* [{ opcode, name, syscall, waitsOnDescriptor, transfer, fillsAddress, fillsStat, runsAtLaunch,
 *    socket, multishot }, ...], indexed by opcode. */
Napi::Array OperationTable(Napi::Env env, OperationEntryExtension extend = nullptr);

}  // namespace proactor
