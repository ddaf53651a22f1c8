/*
 * faults([spec]): the JavaScript face of the fault schedule (fault_schedule.h), exported by an
 * addon built with -DPROACTOR_FAULTS=ON and absent from every other build. With a spec (the
 * PROACTOR_FAULTS syntax) it replaces the schedule first (a TypeError for a bad spec). Returns
 * { seed, sites: { <site>: { rate, calls, injected, what } } }.
 */
#ifndef PROACTOR_COMMON_FAULT_CONTROL_H
#define PROACTOR_COMMON_FAULT_CONTROL_H

#include <napi.h>

#include "fault_schedule.h"

namespace proactor {

#ifdef PROACTOR_FAULTS

inline Napi::Value FaultControl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "faults(spec): spec must be a string");
    const std::string error = ReplaceFaultSchedule(info[0].As<Napi::String>().Utf8Value());
    if (!error.empty()) throw Napi::TypeError::New(env, "faults(spec): " + error);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("seed", Napi::Number::New(env, static_cast<double>(FaultSeed())));
  Napi::Object sites = Napi::Object::New(env);
  for (const FaultSiteReport& site : FaultReport()) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("rate", site.rate);
    entry.Set("calls", static_cast<double>(site.calls));
    entry.Set("injected", static_cast<double>(site.injected));
    entry.Set("what", site.what);
    sites.Set(site.name, entry);
  }
  out.Set("sites", sites);
  return out;
}

/* Adds faults() to an addon's exports. */
inline void ExportFaultControl(Napi::Env env, Napi::Object exports) {
  exports.Set("faults", Napi::Function::New<FaultControl>(env, "faults"));
}

#else

inline void ExportFaultControl(Napi::Env /*env*/, Napi::Object /*exports*/) {}

#endif

}  // namespace proactor

#endif  // PROACTOR_COMMON_FAULT_CONTROL_H
