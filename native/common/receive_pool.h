/*
 * ReceivePool: the provided buffers of PROACTOR_OP_RECV_MULTI on an engine that receives into
 * them itself, one call at a time (the reactor, IOCP; io_uring hands its own to the kernel's
 * buffer ring). aio-core lends one JS-owned block (Engine.provideBuffers: `count` buffers of
 * `size` bytes, buffer i at i * size); a receive takes a free buffer only for the call that
 * fills it, so a connection waiting for data pins none. A buffer that came back with data stays
 * lent until the complete() call that hands the data to JavaScript returned
 * (EngineDriver::BuffersDelivered: Give()).
 *
 * Threading: the JS thread only. The block stays referenced until Release() (the queue closed:
 * nothing receives into it any more).
 */
#ifndef PROACTOR_COMMON_RECEIVE_POOL_H
#define PROACTOR_COMMON_RECEIVE_POOL_H

#include <napi.h>

#include <cstdint>
#include <vector>

namespace proactor {

/* The arguments of provideBuffers(memory: Uint8Array, size: number, count: number), checked:
 * throws a TypeError or RangeError for bad ones (size 1 to 2^30, count 1 to 65536, memory at
 * least size * count bytes). Every engine's provideBuffers reads them so. */
struct ProvidedBlock {
  uint8_t* data = nullptr;
  uint32_t size = 0;
  uint32_t count = 0;
};
ProvidedBlock ReadProvidedBlock(const Napi::CallbackInfo& info);

class ReceivePool {
 public:
  /* provideBuffers(memory: Uint8Array, size: number, count: number): adopts the block, once.
   * Throws ERR_INVALID_STATE when buffers were already provided, else as ReadProvidedBlock. */
  void Provide(const Napi::CallbackInfo& info);
  /* Forgets the block and its reference. */
  void Release();

  bool provided() const { return count_ != 0; }
  /* Takes a free buffer (the lowest id first): false when none is free. */
  bool Take(uint32_t* id);
  /* Buffer `id` is free again (ids outside the pool are ignored). */
  void Give(uint32_t id);
  uint8_t* data(uint32_t id) const { return base_ + static_cast<size_t>(id) * size_; }
  uint32_t size() const { return size_; }

  /* providedBuffers, providedBufferSize, providedBuffersFree. */
  void FillInfo(Napi::Object out) const;

 private:
  uint8_t* base_ = nullptr;
  uint32_t size_ = 0;
  uint32_t count_ = 0;
  std::vector<uint32_t> free_; /* taken from the back */
  Napi::Reference<Napi::Value> memory_;
};

}  // namespace proactor

#endif  // PROACTOR_COMMON_RECEIVE_POOL_H
