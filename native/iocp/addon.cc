/*
 * The @proactor/aio-iocp addon: exports the IocpEngine class (engine.h) and, in a build with
 * -DPROACTOR_FAULTS=ON only, faults() (../common/fault_control.h).
 */
#include <napi.h>

#include "../common/fault_control.h"
#include "engine.h"

static Napi::Object InitIocpAddon(Napi::Env env, Napi::Object exports) {
  exports.Set("IocpEngine", proactor::IocpEngine::Define(env));
  proactor::ExportFaultControl(env, exports);
  return exports;
}

NODE_API_MODULE(proactor_iocp, InitIocpAddon)
