#include "operation_table.h"

#include "operation.h"

namespace proactor {

Napi::Array OperationTable(Napi::Env env, OperationEntryExtension extend) {
  Napi::Array out = Napi::Array::New(env, PROACTOR_OP_COUNT);
  for (uint32_t op = 0; op < PROACTOR_OP_COUNT; op++) {
    const auto opcode = static_cast<uint8_t>(op);
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("opcode", op);
    entry.Set("name", kOperations[op].name);
    entry.Set("syscall", kOperations[op].syscall);
    entry.Set("waitsOnDescriptor", HasTrait(opcode, kWaitsOnDescriptor));
    entry.Set("transfer", HasTrait(opcode, kTransfer));
    entry.Set("fillsAddress", HasTrait(opcode, kFillsAddress));
    entry.Set("fillsStat", HasTrait(opcode, kFillsStat));
    entry.Set("runsAtLaunch", HasTrait(opcode, kRunsAtLaunch));
    entry.Set("socket", HasTrait(opcode, kSocket));
    entry.Set("multishot", HasTrait(opcode, kMultishot));
    if (extend != nullptr) extend(env, entry, opcode);
    out.Set(op, entry);
  }
  return out;
}

}  // namespace proactor
