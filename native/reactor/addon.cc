/*
 * A reactor addon (@proactor/aio-epoll; @proactor/aio-kqueue builds the same file with its own
 * pollers): exports the ReactorEngine class, pollers() (the pollers this build has, by name:
 * PROACTOR_REACTOR_EPOLL / _KQUEUE / _POLL say which poller files were compiled in), and
 * operations(), the native operation table (../common/operation.h) that the TypeScript side
 * checks its own against, and linuxAioProbe() (linux_aio.h: whether Linux AIO is usable here);
 * and, in a build with -DPROACTOR_FAULTS=ON only, faults() (../common/fault_control.h).
 */
#include <napi.h>
#include <uv.h>

#include "../common/fault_control.h"
#include "../common/operation_table.h"
#include "engine.h"
#include "linux_aio.h"

namespace proactor {

namespace {

Napi::Value Pollers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
#ifdef PROACTOR_REACTOR_EPOLL
  out.Set(n++, "epoll");
#endif
#ifdef PROACTOR_REACTOR_KQUEUE
  out.Set(n++, "kqueue");
#endif
#ifdef PROACTOR_REACTOR_POLL
  out.Set(n++, "poll");
#endif
  (void)n;
  return out;
}

/* operations() -> the shared table (../common/operation_table.h): the reactor adds nothing. */
Napi::Value Operations(const Napi::CallbackInfo& info) { return OperationTable(info.Env()); }

/* linuxAioProbe() -> { ok: true } | { ok: false, errno, code, syscall: 'io_setup' }: whether the
 * Linux AIO system calls reach the kernel here (ProbeLinuxAio). */
Napi::Value LinuxAioProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  const int r = ProbeLinuxAio();
  out.Set("ok", r == 0);
  if (r < 0) {
    out.Set("errno", r);
    out.Set("code", uv_err_name(r));
    out.Set("syscall", "io_setup");
  }
  return out;
}

}  // namespace

}  // namespace proactor

static Napi::Object InitReactorAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("ReactorEngine", proactor::ReactorEngine::Define(env));
  exports.Set("pollers", Napi::Function::New<proactor::Pollers>(env, "pollers"));
  exports.Set("operations", Napi::Function::New<proactor::Operations>(env, "operations"));
  exports.Set("linuxAioProbe", Napi::Function::New<proactor::LinuxAioProbe>(env, "linuxAioProbe"));
  proactor::ExportFaultControl(env, exports);
  return exports;
}

NODE_API_MODULE(proactor_reactor, InitReactorAddon)
