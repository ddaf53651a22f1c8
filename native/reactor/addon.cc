/*
 * A reactor addon (@proactor/aio-epoll; @proactor/aio-kqueue builds the same file with its own
 * pollers): exports the ReactorEngine class, pollers() (the pollers this build has, by name:
 * PROACTOR_REACTOR_EPOLL / _KQUEUE / _POLL say which poller files were compiled in), and
 * operations(), the native operation table (../common/operation.h) that the TypeScript side
 * checks its own against.
 */
#include <napi.h>

#include "../common/operation_table.h"
#include "engine.h"

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

}  // namespace

}  // namespace proactor

static Napi::Object InitReactorAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("ReactorEngine", proactor::ReactorEngine::Define(env));
  exports.Set("pollers", Napi::Function::New<proactor::Pollers>(env, "pollers"));
  exports.Set("operations", Napi::Function::New<proactor::Operations>(env, "operations"));
  return exports;
}

NODE_API_MODULE(proactor_reactor, InitReactorAddon)
