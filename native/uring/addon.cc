/*
 * The @proactor/aio-uring addon: exports the UringEngine class and probe(), which opens a
 * small ring to find out whether io_uring is usable here and which opcodes the kernel has.
 */
#include <napi.h>
#include <uv.h>

#include "uring_engine.h"
#include "uring_ring.h"

namespace proactor {

namespace {

/* probe() -> { ok: true, features, opcodes: number[] } | { ok: false, errno, code, syscall } */
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  UringRing ring;
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
  return out;
}

}  // namespace

}  // namespace proactor

static Napi::Object InitUringAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("UringEngine", proactor::UringEngine::Define(env));
  exports.Set("probe", Napi::Function::New<proactor::Probe>(env, "probe"));
  return exports;
}

NODE_API_MODULE(proactor_uring, InitUringAddon)
