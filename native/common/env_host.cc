#include "env_host.h"

#include <uv.h>

#include <exception>

#include "engine_core.h"
#include "queue_buffers.h"
#include "system_error.h"

namespace proactor {

namespace {

/* Threads of each environment's blocking pool (started on first use). */
constexpr unsigned kPoolThreads = 4;

/* The addon's per-environment data: its hosts. */
struct EnvHosts {
  std::vector<std::unique_ptr<EnvHost>> hosts;
};

EnvHosts* HostsOf(napi_env env) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) == napi_ok && data != nullptr) return static_cast<EnvHosts*>(data);
  auto* hosts = new EnvHosts();
  napi_status status = napi_set_instance_data(
      env, hosts, [](napi_env, void* d, void*) { delete static_cast<EnvHosts*>(d); }, nullptr);
  if (status != napi_ok) {
    delete hosts;
    return nullptr;
  }
  return hosts;
}

}  // namespace

EnvHost* EnvHost::Find(napi_env env, const std::function<bool(EnvHost&)>& match) {
  EnvHosts* hosts = HostsOf(env);
  if (hosts == nullptr) return nullptr;
  for (const auto& host : hosts->hosts) {
    if (!host->torn_down_ && match(*host)) return host.get();
  }
  return nullptr;
}

EnvHost* EnvHost::Adopt(Napi::Env env, std::unique_ptr<EnvHost> host) {
  EnvHosts* hosts = HostsOf(env);
  if (hosts == nullptr) {
    throw CodedError(env, "ERR_PROACTOR_ENV_SETUP_FAILED",
                     "napi_set_instance_data failed: the environment's engine registry could not be kept");
  }
  host->Open(env);
  hosts->hosts.push_back(std::move(host));
  return hosts->hosts.back().get();
}

void EnvHost::Open(Napi::Env env) {
  // The mechanism first: its failure (io_uring denied, ...) is the one worth reporting.
  OpenMechanism(env);
  const char* syscall = nullptr;
  int r = wakeup_.Open(env, &EnvHost::OnReadable, this, &syscall);
  if (r < 0) throw SystemError(env, r, syscall);
  ConnectWakeup(env);
  pool_ = std::make_unique<BlockingPool>(
      kPoolThreads, [](void* wakeup) { static_cast<LoopWakeup*>(wakeup)->Signal(); }, &wakeup_);
  async_context_ = std::make_unique<Napi::AsyncContext>(env, resource_name_);
  if (napi_add_async_cleanup_hook(env, &EnvHost::OnEnvCleanup, this, &cleanup_hook_) != napi_ok) {
    cleanup_hook_ = nullptr;
    throw CodedError(env, "ERR_PROACTOR_ENV_SETUP_FAILED",
                     "napi_add_async_cleanup_hook failed: the environment's teardown could not be hooked");
  }
}

EnvHost::~EnvHost() { Teardown(nullptr, nullptr); }

uint16_t EnvHost::Register(Napi::Env env, EngineCore* engine) {
  if (!free_ids_.empty()) {
    uint16_t id = free_ids_.back();
    free_ids_.pop_back();
    engines_[id] = engine;
    wants_ref_[id] = false;
    return id;
  }
  if (engines_.size() >= 0xFFFF) {
    Napi::Error error =
        Napi::RangeError::New(env, std::string("too many ") + kind() + " queues in this environment");
    error.Set("code", Napi::String::New(env, "ERR_PROACTOR_TOO_MANY_QUEUES"));
    throw error;
  }
  engines_.push_back(engine);
  wants_ref_.push_back(false);
  return static_cast<uint16_t>(engines_.size() - 1);
}

void EnvHost::Unregister(uint16_t id) {
  if (id >= engines_.size() || engines_[id] == nullptr) return;
  SetWantsRef(id, false);
  engines_[id] = nullptr;
  free_ids_.push_back(id);
}

void EnvHost::SetWantsRef(uint16_t id, bool wants) {
  if (id >= wants_ref_.size() || wants_ref_[id] == wants) return;
  wants_ref_[id] = wants;
  ref_count_ = wants ? ref_count_ + 1 : ref_count_ - 1;
  wakeup_.SetRef(ref_count_ > 0);
}

void EnvHost::OnReadable(void* self) {
  auto* host = static_cast<EnvHost*>(self);
  // libuv calls this from C: no C++ exception may unwind through its frames. Nothing below
  // throws by design (Node-API calls are checked, not wrapped), so one that does is a bug of
  // this addon: stop with its message instead of undefined behaviour.
  try {
    host->DeliverFromLoop();
  } catch (const std::exception& e) {
    napi_fatal_error(host->resource_name_, NAPI_AUTO_LENGTH, e.what(), NAPI_AUTO_LENGTH);
  } catch (...) {
    napi_fatal_error(host->resource_name_, NAPI_AUTO_LENGTH, "unknown exception", NAPI_AUTO_LENGTH);
  }
}

void EnvHost::DeliverFromLoop() {
  if (torn_down_ || js_gone_) return;
  wakeups_++;
  wakeup_.Clear();
  OnWake();
  Napi::Env env(env_);
  // JavaScript submits from the callbacks and microtasks of a round; what the engines decide at
  // once then (a send or recv that did not have to wait) is delivered by the next round rather
  // than through the wakeup, which would cost an eventfd write and read and another turn of the
  // loop per round trip. Bounded, so that queues answering each other at once cannot keep the
  // loop from its other work.
  constexpr int kRounds = 8;
  for (int round = 0;; round++) {
    local_posted_ = false;
    delivering_ = true;
    napi_value exception = nullptr;
    {
      Napi::HandleScope scope(env);
      // Microtasks and nextTicks run when this scope closes: after every batch was delivered.
      CompletionScope callback_scope(env, *async_context_);
      Dispatch(env, nullptr, &exception);
      // Nothing on the stack can catch it: report it like any uncaught exception.
      if (exception != nullptr) napi_fatal_exception(env, exception);
    }
    delivering_ = false;
    if (!local_posted_ || torn_down_ || js_gone_) return;
    if (exception != nullptr || round + 1 == kRounds) {
      Wake();
      return;
    }
  }
}

uint32_t EnvHost::Dispatch(Napi::Env env, EngineCore* focus, napi_value* exception) {
  *exception = nullptr;
  uint32_t focus_delivered = 0;
  for (;;) {
    Reap();
    bool delivered = false;
    // Engines may be added or removed by the callbacks: index, and re-read each time.
    for (size_t i = 0; i < engines_.size() && !torn_down_; i++) {
      EngineCore* engine = engines_[i];
      if (engine == nullptr || !engine->HasReady() || engine->InComplete()) continue;
      bool js_gone = false;
      uint32_t n = engine->DeliverReady(env, exception, &js_gone);
      delivered = delivered || n > 0;
      if (engine == focus) focus_delivered += n;
      if (js_gone) {
        // JS cannot run here any more (a terminating worker): the cleanup hook frees the host.
        js_gone_ = true;
        return focus_delivered;
      }
      if (*exception != nullptr) {
        Wake();  // the rest is delivered from the next wakeup
        return focus_delivered;
      }
    }
    if (!delivered || torn_down_) return focus_delivered;
  }
}

void EnvHost::Reap() {
  if (torn_down_) return;
  ReapMechanism();
  std::vector<BlockingPool::Result> results;
  pool_->TakeResults(&results);
  for (const auto& r : results) {
    EngineCore* engine = this->engine(TagEngine(r.first));
    if (engine != nullptr) engine->OnPoolResult(r.first, r.second);
  }
  for (EngineCore* engine : engines_) {
    if (engine != nullptr) engine->ProcessLocal();
  }
}

void EnvHost::Teardown(LoopPoll::Closed closed, void* closed_arg) {
  if (torn_down_) {
    if (closed != nullptr) closed(closed_arg);
    return;
  }
  torn_down_ = true;
  if (pool_ != nullptr) CancelAndDrain();
  // Pool jobs write into buffers and engine memory: let them finish before anything goes.
  pool_.reset();
  for (EngineCore* engine : engines_) {
    if (engine != nullptr) engine->Detach();
  }
  engines_.clear();
  wakeup_.Close(closed, closed_arg);
  CloseMechanism();
  // While the environment can still take it (napi_async_destroy), not in a late finalizer.
  async_context_.reset();
  if (cleanup_hook_ != nullptr) {
    napi_remove_async_cleanup_hook(cleanup_hook_);
    cleanup_hook_ = nullptr;
  }
}

void EnvHost::OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* self) {
  auto* host = static_cast<EnvHost*>(self);
  // The hook is removed once the wakeup handle has closed (below), not by Teardown.
  host->cleanup_hook_ = nullptr;
  host->Teardown([](void* h) { napi_remove_async_cleanup_hook(static_cast<napi_async_cleanup_hook_handle>(h)); },
                 handle);
  // The torn-down host stays in the registry; the instance data's finalizer frees it.
}

}  // namespace proactor
