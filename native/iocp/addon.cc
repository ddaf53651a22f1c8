/*
 * The @proactor/aio-iocp addon: exports the IocpEngine class (engine.h).
 */
#include <napi.h>

#include "engine.h"

static Napi::Object InitIocpAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("IocpEngine", proactor::IocpEngine::Define(env));
  return exports;
}

NODE_API_MODULE(proactor_iocp, InitIocpAddon)
