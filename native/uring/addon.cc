/*
 * The @proactor/aio-uring addon: exports the UringEngine class; probe(), which opens a small
 * ring to find out whether io_uring is usable here and which opcodes the kernel has; and
 * operations(), the native operation table (../common/operation.h) with each operation's
 * io_uring opcode, which the TypeScript side reads instead of keeping its own copy.
 */
#include <napi.h>
#include <uv.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "../common/fault_control.h"
#include "../common/operation.h"
#include "../common/operation_table.h"
#include "engine.h"
#include "kernel_ring.h"

namespace proactor {

namespace {

/* Whether the ring takes a sparse table of `op` (IORING_REGISTER_BUFFERS2 / FILES2 with
 * IORING_RSRC_REGISTER_SPARSE, Linux 5.19); EINVAL (or anything else) means no. */
bool SparseTableWorks(KernelRing& ring, unsigned op) {
  RsrcRegister reg;
  std::memset(&reg, 0, sizeof reg);
  reg.nr = 1;
  reg.flags = PROACTOR_IORING_RSRC_REGISTER_SPARSE;
  return ring.Register(op, &reg, sizeof reg) >= 0;
}

bool BufferRingWorks(KernelRing& ring);

/* probe() -> { ok: true, features, opcodes: number[], registeredBuffers, registeredFiles, sqpoll }
 *          | { ok: false, errno, code, syscall } */
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  KernelRing ring;
  RingSetup setup;
  setup.sq_entries = 4;
  const char* syscall = "io_uring_setup";
  int r = ring.Open(setup, &syscall);
  if (r < 0) {
    out.Set("ok", false);
    out.Set("errno", r);
    out.Set("code", uv_err_name(r));
    out.Set("syscall", syscall);
    return out;
  }
  out.Set("ok", true);
  out.Set("features", ring.features());
  Napi::Array opcodes = Napi::Array::New(env);
  uint32_t n = 0;
  for (unsigned op = 0; op < 256; op++) {
    if (ring.Supports(op)) opcodes.Set(n++, Napi::Number::New(env, op));
  }
  out.Set("opcodes", opcodes);
  // The update opcodes (5.13) come with the sparse flag's kernel (5.19), as do the fixed
  // read/write opcodes (5.1).
  out.Set("registeredBuffers", SparseTableWorks(ring, PROACTOR_IORING_REGISTER_BUFFERS2) &&
                                   ring.Supports(IORING_OP_READ_FIXED) && ring.Supports(IORING_OP_WRITE_FIXED));
  out.Set("registeredFiles", SparseTableWorks(ring, PROACTOR_IORING_REGISTER_FILES2));
  // SQPOLL without CAP_SYS_ADMIN or fixed files (5.11), with personalities for credential changes.
  // Multishot recv (Linux 6.0, the release of IORING_OP_SEND_ZC) with a provided-buffer ring,
  // and multishot accept (5.19).
  out.Set("multishot", ring.Supports(PROACTOR_IORING_OP_SEND_ZC) && ring.Supports(IORING_OP_ACCEPT) &&
                           ring.Supports(IORING_OP_RECV) && BufferRingWorks(ring));
  out.Set("zeroCopySend", ring.Supports(PROACTOR_IORING_OP_SEND_ZC));
  // sendfile through a pipe (5.7); without it sendfile(2) runs on the blocking pool.
  out.Set("splice", ring.Supports(IORING_OP_SPLICE));
  out.Set("sqpoll", (ring.features() & IORING_FEAT_SQPOLL_NONFIXED) != 0 &&
                        (ring.features() & IORING_FEAT_CUR_PERSONALITY) != 0);
  return out;
}

/* alignmentOffset(bytes: Uint8Array, alignment: number) -> the byte offset from the start of
 * `bytes` to its first address that is a multiple of `alignment` (a power of two). JavaScript
 * cannot see addresses, and O_DIRECT wants page-aligned memory. */
Napi::Value AlignmentOffset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "alignmentOffset(bytes: Uint8Array, alignment: number)");
  }
  Napi::TypedArray array = info[0].As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array) throw Napi::TypeError::New(env, "bytes must be a Uint8Array");
  const uint32_t alignment = info[1].As<Napi::Number>().Uint32Value();
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw Napi::RangeError::New(env, "alignment must be a power of two");
  }
  const auto address = reinterpret_cast<uintptr_t>(array.As<Napi::Uint8Array>().Data());
  return Napi::Number::New(env, static_cast<double>((alignment - (address & (alignment - 1))) & (alignment - 1)));
}

/* operations() -> the shared table (../common/operation_table.h), each entry with its io_uring
 * opcode as kernelOpcode (null: never submitted to the kernel). */
Napi::Value Operations(const Napi::CallbackInfo& info) {
  return OperationTable(info.Env(), [](Napi::Env env, Napi::Object entry, uint8_t opcode) {
    const unsigned kernel = KernelOpcode(opcode);
    entry.Set("kernelOpcode", kernel == kNoKernelOpcode ? env.Null() : Napi::Number::New(env, kernel));
  });
}

/* Whether the ring takes a provided-buffer ring (IORING_REGISTER_PBUF_RING, Linux 5.19). */
bool BufferRingWorks(KernelRing& ring) {
  const size_t bytes = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return false;
  PbufRegister reg;
  std::memset(&reg, 0, sizeof reg);
  reg.ring_addr = reinterpret_cast<uint64_t>(mem);
  reg.ring_entries = 1;
  bool ok = ring.Register(PROACTOR_IORING_REGISTER_PBUF_RING, &reg, 1) >= 0;
  if (ok) {
    std::memset(&reg, 0, sizeof reg);
    (void)ring.Register(PROACTOR_IORING_UNREGISTER_PBUF_RING, &reg, 1);
  }
  munmap(mem, bytes);
  return ok;
}

}  // namespace

}  // namespace proactor

static Napi::Object InitUringAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("UringEngine", proactor::UringEngine::Define(env));
  exports.Set("probe", Napi::Function::New<proactor::Probe>(env, "probe"));
  exports.Set("operations", Napi::Function::New<proactor::Operations>(env, "operations"));
  exports.Set("alignmentOffset", Napi::Function::New<proactor::AlignmentOffset>(env, "alignmentOffset"));
  proactor::ExportFaultControl(env, exports);
  return exports;
}

NODE_API_MODULE(proactor_uring, InitUringAddon)
