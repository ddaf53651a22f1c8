#include "receive_pool.h"

#include "resource_views.h"
#include "system_error.h"

namespace proactor {

ProvidedBlock ReadProvidedBlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) {
    throw Napi::TypeError::New(env, "provideBuffers(memory: Uint8Array, size: number, count: number)");
  }
  ByteSpan span;
  if (!GetByteSpan(env, info[0], &span)) throw Napi::TypeError::New(env, "memory must be an ArrayBufferView");
  const double size = info[1].As<Napi::Number>().DoubleValue();
  const double count = info[2].As<Napi::Number>().DoubleValue();
  if (!(size >= 1 && size <= (1u << 30)) || size != static_cast<double>(static_cast<uint32_t>(size))) {
    throw Napi::RangeError::New(env, "size must be an integer from 1 to 2^30");
  }
  if (!(count >= 1 && count <= 65536) || count != static_cast<double>(static_cast<uint32_t>(count))) {
    throw Napi::RangeError::New(env, "count must be an integer from 1 to 65536");
  }
  ProvidedBlock block;
  block.size = static_cast<uint32_t>(size);
  block.count = static_cast<uint32_t>(count);
  if (span.data == nullptr || span.length / block.size < block.count) {
    throw Napi::RangeError::New(env, "memory is smaller than size * count");
  }
  block.data = span.data;
  return block;
}

void ReceivePool::Provide(const Napi::CallbackInfo& info) {
  if (count_ != 0) throw CodedError(info.Env(), "ERR_INVALID_STATE", "buffers were already provided");
  const ProvidedBlock block = ReadProvidedBlock(info);
  base_ = block.data;
  size_ = block.size;
  count_ = block.count;
  free_.clear();
  for (uint32_t id = count_; id > 0; id--) free_.push_back(id - 1);
  memory_ = Napi::Persistent(info[0]);
}

void ReceivePool::Release() {
  memory_.Reset();
  base_ = nullptr;
  size_ = 0;
  count_ = 0;
  free_.clear();
}

bool ReceivePool::Take(uint32_t* id) {
  if (free_.empty()) return false;
  *id = free_.back();
  free_.pop_back();
  return true;
}

void ReceivePool::Give(uint32_t id) {
  if (id < count_) free_.push_back(id);
}

void ReceivePool::FillInfo(Napi::Object out) const {
  out.Set("providedBuffers", count_);
  out.Set("providedBufferSize", size_);
  out.Set("providedBuffersFree", static_cast<uint32_t>(free_.size()));
}

}  // namespace proactor
