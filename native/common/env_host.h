/*
 * EnvHost: what one Node environment (the main thread, or one worker thread) holds for the
 * queues of one mechanism and configuration, whatever the mechanism: the registry of its
 * engines (EngineCore, by id), the wakeup on the environment's loop and its ref count, the
 * blocking pool, dispatch of results into JavaScript inside a callback scope, and teardown when
 * the environment goes away (the async cleanup hook).
 *
 * A mechanism subclasses it (UringHost: the kernel ring; a reactor: its poller; IOCP: its port)
 * and implements the hooks below: how to collect its results (ReapMechanism), how to block for
 * them (Wait), and how to cancel and drain what is still in it at teardown.
 *
 * Delivery (Dispatch): results are first moved into each engine's native ready list (Reap:
 * the mechanism's, the pool's, then the results decided locally), then each engine hands its
 * list to JS in batches. Reaping never waits for JS, so a JS callback that re-enters
 * (waitSync() on another queue) cannot corrupt a completion buffer still being read.
 *
 * Lifetime: created by the first attach in an environment and kept while the environment lives.
 * The cleanup hook tears it down: it cancels what is in flight, waits for it (bounded by the
 * mechanism), finishes the pool's jobs, detaches the engines and closes the wakeup. The addon's
 * instance data (the registry of hosts) frees the object afterwards.
 */
#ifndef PROACTOR_COMMON_ENV_HOST_H
#define PROACTOR_COMMON_ENV_HOST_H

#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "blocking_pool.h"
#include "loop_wakeup.h"

namespace proactor {

class EngineCore;

class EnvHost {
 public:
  virtual ~EnvHost();
  EnvHost(const EnvHost&) = delete;
  EnvHost& operator=(const EnvHost&) = delete;

  /* The host of `env` that `match` accepts, or null. */
  static EnvHost* Find(napi_env env, const std::function<bool(EnvHost&)>& match);
  /* Opens `host` (Open()) and adds it to the registry of `env`; throws a JS error on failure. */
  static EnvHost* Adopt(Napi::Env env, std::unique_ptr<EnvHost> host);

  /* Adds an engine; returns its id. Throws when the environment has 65535 engines. */
  uint16_t Register(Napi::Env env, EngineCore* engine);
  void Unregister(uint16_t id);
  /* Whether `engine` wants the loop kept alive; the wakeup is ref'd while any does. */
  void SetWantsRef(uint16_t id, bool wants);
  EngineCore* engine(uint16_t id) const { return id < engines_.size() ? engines_[id] : nullptr; }

  BlockingPool& pool() { return *pool_; }
  /* Makes the wakeup callback run soon (results decided without the mechanism). */
  void Wake() { wakeup_.Signal(); }
  /* For results an engine decided during a submission (a send that completed at once): while
   * the wakeup callback is delivering (JavaScript submits from its callbacks and microtasks),
   * that callback delivers them in another round; otherwise Wake(). */
  void WakeForLocal() {
    if (delivering_) {
      local_posted_ = true;
    } else {
      Wake();
    }
  }

  /*
   * Moves every available result to its engine and delivers them to JS. Returns how many were
   * delivered to `focus` (may be null). Stops at an exception thrown by a complete() callback
   * and returns it in `*exception`. Requires a HandleScope.
   */
  uint32_t Dispatch(Napi::Env env, EngineCore* focus, napi_value* exception);

  /* ---- the mechanism ---- */
  /* A short name for kinds of hosts in one registry ("io_uring"). */
  virtual const char* kind() const = 0;
  /* Called before a batch of submissions is launched (e.g. to check credentials). */
  virtual void BeforeSubmit() {}
  /* Hands what was queued during a submission or a chain step to the mechanism. */
  virtual void Flush() {}
  /* Blocks until a result may be available or `timeout_ns` (< 0: no limit) passed: 0,
   * UV_ETIMEDOUT on timeout, or another negative libuv error (named by wait_syscall()). */
  virtual int Wait(int64_t timeout_ns) = 0;
  virtual const char* wait_syscall() const = 0;

  bool js_gone() const { return js_gone_; }
  bool torn_down() const { return torn_down_; }
  uint64_t wakeups() const { return wakeups_; }

 protected:
  EnvHost(napi_env env, const char* resource_name) : env_(env), resource_name_(resource_name) {}

  /* Sets the mechanism up; throws a JS error (SystemError) on failure. Runs first. */
  virtual void OpenMechanism(Napi::Env env) = 0;
  /* Lets the mechanism signal the wakeup itself (io_uring: a registered eventfd); throws a JS
   * error on failure. Runs once the wakeup is open, before the pool exists. */
  virtual void ConnectWakeup(Napi::Env /*env*/) {}
  /* Routes the mechanism's available results to the engines. */
  virtual void ReapMechanism() = 0;
  /* Called from the wakeup callback before dispatching (e.g. to retry a busy submission). */
  virtual void OnWake() {}
  /* Teardown: cancel what is in the mechanism and wait for it (bounded). */
  virtual void CancelAndDrain() = 0;
  /* Teardown: after the engines were detached; close the mechanism. */
  virtual void CloseMechanism() = 0;

  /* Subclasses call this from their destructor (virtual calls do not reach them from ours). */
  void Teardown(LoopPoll::Closed closed, void* closed_arg);
  void Reap();

  /* The wakeup callback: reaps and delivers into JavaScript. A mechanism that wakes the loop
   * through a handle of its own (a reactor's uv_poll on its poller, its timer) calls it too. */
  static void OnReadable(void* self);

  const std::vector<EngineCore*>& engines() const { return engines_; }
  LoopWakeup& wakeup() { return wakeup_; }
  napi_env env_;

 private:
  void Open(Napi::Env env);
  /* The body of OnReadable: reap, then deliver every engine's results into JavaScript. */
  void DeliverFromLoop();
  static void OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* self);

  const char* resource_name_;
  /* Declared before pool_, which signals it: members are destroyed in reverse order. */
  LoopWakeup wakeup_;
  std::unique_ptr<BlockingPool> pool_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  napi_async_cleanup_hook_handle cleanup_hook_ = nullptr;
  std::vector<EngineCore*> engines_; /* by id; null where free */
  std::vector<uint16_t> free_ids_;
  std::vector<bool> wants_ref_;
  uint32_t ref_count_ = 0;
  uint64_t wakeups_ = 0;
  bool delivering_ = false;  /* inside DeliverFromLoop, microtasks included */
  bool local_posted_ = false; /* WakeForLocal() was called meanwhile */
  bool js_gone_ = false;
  bool torn_down_ = false;
};

}  // namespace proactor

#endif  // PROACTOR_COMMON_ENV_HOST_H
