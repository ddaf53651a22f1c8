#include "engine_core.h"

#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "env_host.h"
#include "socket_address.h"
#include "stat_record.h"
#include "system_error.h"

namespace proactor {

void EngineCore::Attach(Napi::Env env, Napi::Object ring, EnvHost* host) {
  buffers_.Bind(env, ring);
  if (buffers_.entries() > 0x10000) throw Napi::RangeError::New(env, "ring.entries is out of range");
  slots_.resize(buffers_.entries());
  open_max_ = OpenDescriptorLimit();
  host_ = host;
  id_ = host->Register(env, this);
}

// ---- submission ----------------------------------------------------------------------------

void EngineCore::Submit(Napi::Env env, uint32_t count) {
  if (closed_ || host_ == nullptr) throw CodedError(env, "ERR_PROACTOR_QUEUE_DESTROYED", std::string("the ") + name_ + " engine is closed");
  if (count > buffers_.submission_capacity()) {
    throw Napi::RangeError::New(env, "submit count exceeds the submission buffer");
  }
  napi_value resources = buffers_.Resources();
  const uint32_t entries = buffers_.entries();
  host_->BeforeSubmit();

  bool in_chain = false;     /* the previous operation links to this one */
  bool chain_broken = false; /* a member of this chain failed here: ECANCELED the rest */
  /* The members of the current chain after its head, in order (null outside a chain). */
  std::shared_ptr<std::deque<uint16_t>> chain_rest;
  for (uint32_t i = 0; i < count; i++) {
    proactor_sqe e;
    std::memcpy(&e, &buffers_.Submission(i), sizeof e);
    if (e.opcode == PROACTOR_OP_CANCEL) {
      QueueCancel(e.target);
      continue;
    }
    if (e.slot >= entries || slots_[e.slot].busy) continue;  // aio-core never does this
    const uint16_t index = static_cast<uint16_t>(e.slot);
    const bool link = (e.flags & PROACTOR_SQE_F_LINK) != 0;
    Slot& slot = slots_[index];
    slot.busy = true;
    slot.generation++;
    slot.chain.reset();
    slot.waiting_fd = -1;
    slot.transferred = 0;
    slot.cancel_requested = false;
    in_flight_++;

    const bool head = !in_chain;
    if (head) {
      chain_broken = false;
      chain_rest = link ? std::make_shared<std::deque<uint16_t>>() : nullptr;
    }
    in_chain = link;
    if (chain_broken) {
      slot.op = Operation{};
      slot.op.opcode = e.opcode;
      PostLocal(index, UV_ECANCELED);
      continue;
    }
    int err = Decode(env, resources, buffers_, e, slot.storage, &slot.op);
    if (err < 0) {
      // The members after this one are cancelled; the ones before it still run.
      PostLocal(index, err);
      chain_broken = link;
      continue;
    }
    if (chain_rest == nullptr) {
      Launch(index);
    } else if (head) {
      // Linked operations run one at a time: the head starts now and owns the list of the
      // members after it; each member is launched when its predecessor succeeded (Finish).
      slot.chain = chain_rest;
      Launch(index);
    } else {
      slot.where = Slot::Where::Sequenced;
      chain_rest->push_back(index);
    }
  }
  host_->Flush();
  if (!local_.empty()) host_->WakeForLocal();
  UpdateRef();
}

void EngineCore::Launch(uint16_t index) {
  Slot& slot = slots_[index];
  Operation& op = slot.op;
  // Operations still waiting on the descriptor end first (ECANCELED): a kernel request holds
  // its own reference to the file and would otherwise wait on after the close.
  if (op.opcode == PROACTOR_OP_CLOSE && (HasWaiting(op.fd) || (HasTransfers(op.fd) && IsSocketDescriptor(op.fd)))) {
    driver_->CancelDescriptor(op.fd);
  }
  // (Results posted here are finished by whoever launched: Submit wakes the host for them,
  // Finish runs inside EnvHost::Reap, which processes local results after routing.)
  int32_t result = 0;
  const uint64_t tag = OperationTag(slot.generation, id_, index);
  switch (driver_->Launch(index, tag, op, &result)) {
    case Start::Done:
      PostLocal(index, result);
      return;
    case Start::Blocking:
      slot.where = Slot::Where::Pool;
      if (!host_->pool().Post(tag, [copy = op]() -> int64_t { return Call(copy); })) PostLocal(index, UV_EAGAIN);
      return;
    case Start::WaitReadable:
    case Start::WaitWritable:
      // Parked by a readiness engine (its per-descriptor waiters): for the core, in the mechanism.
    case Start::Submitted:
      slot.where = Slot::Where::Submitted;
      if (HasTrait(op.opcode, kWaitsOnDescriptor)) {
        CountWaiting(slot);
      } else if (op.opcode == PROACTOR_OP_READ || op.opcode == PROACTOR_OP_WRITE || op.opcode == PROACTOR_OP_READV ||
                 op.opcode == PROACTOR_OP_WRITEV) {
        CountWaiting(slot, true);
      }
      return;
  }
}

void EngineCore::CountWaiting(Slot& slot, bool transfer) {
  // A descriptor at or above RLIMIT_NOFILE cannot be open (the operation fails with EBADF): not
  // counted, so a stray number never sizes the table. (The limit is read again, rarely, in case
  // the process raised it.)
  const int fd = slot.op.fd;
  if (fd < 0) return;
  if (static_cast<long>(fd) >= open_max_) open_max_ = std::max(open_max_, OpenDescriptorLimit());
  if (static_cast<long>(fd) >= open_max_) return;
  std::vector<uint32_t>& counts = transfer ? transfer_fds_ : waiting_fds_;
  if (static_cast<size_t>(fd) >= counts.size()) counts.resize(static_cast<size_t>(fd) + 1 + fd / 2);
  if (counts[fd]++ == 0 && !transfer) waiting_descriptors_++;
  slot.waiting_fd = fd;
  slot.transfer = transfer;
}


void EngineCore::QueueCancel(uint32_t target) {
  if (target >= slots_.size()) return;
  Slot& slot = slots_[target];
  if (!slot.busy) return;
  // A chain member that has not started ends now, with the members after it (those before it
  // run on). What is in the mechanism is cancelled there; a blocking-pool call runs to its end.
  if (slot.where == Slot::Where::Sequenced) {
    for (Slot& head : slots_) {
      if (head.chain == nullptr) continue;
      auto& rest = *head.chain;
      auto it = std::find(rest.begin(), rest.end(), static_cast<uint16_t>(target));
      if (it == rest.end()) continue;
      std::vector<uint16_t> cancelled(it, rest.end());
      rest.erase(it, rest.end());
      for (uint16_t later : cancelled) PostLocal(later, UV_ECANCELED);
      break;
    }
    host_->Wake();
    return;
  }
  if (slot.where != Slot::Where::Submitted && slot.where != Slot::Where::Pool) return;
  slot.cancel_requested = true;
  // A file transfer being continued has moved bytes already: it runs to its end, as the kernel
  // runs a regular-file read or write it has started (it never waits long).
  if (slot.where == Slot::Where::Pool || slot.transferred > 0) return;
  driver_->Cancel(static_cast<uint16_t>(target), OperationTag(slot.generation, id_, static_cast<uint16_t>(target)),
                  slot.op);
}

void EngineCore::PostLocal(uint16_t slot, int32_t result) {
  slots_[slot].where = Slot::Where::Local;
  local_.push_back({slot, 0, result, 0});
}

// ---- completion ----------------------------------------------------------------------------

const Operation* EngineCore::Active(uint64_t tag) const {
  const uint16_t index = TagSlot(tag);
  if (index >= slots_.size()) return nullptr;
  const Slot& slot = slots_[index];
  if (!slot.busy || slot.generation != TagGeneration(tag) ||
      (slot.where != Slot::Where::Submitted && slot.where != Slot::Where::Pool)) {
    return nullptr;
  }
  return &slot.op;
}

void EngineCore::OnPoolResult(uint64_t tag, int64_t result) {
  if (Active(tag) != nullptr) Finish(TagSlot(tag), static_cast<int32_t>(result));
}

void EngineCore::PostItem(uint16_t index, int32_t result, uint16_t flags, uint32_t buffer) {
  multishot_items_++;
  ready_.push_back({index, flags, result, buffer});
}

void EngineCore::ProcessLocal() {
  // Finish() may post more (a failed chain head cancels its members): loop until empty.
  while (!local_.empty()) {
    std::vector<Result> batch;
    batch.swap(local_);
    for (const Result& r : batch) {
      if (slots_[r.slot].busy) Finish(r.slot, r.result);
    }
  }
}

void EngineCore::Finish(uint16_t index, int32_t result) {
  Slot& slot = slots_[index];
  Operation& op = slot.op;
  if (slot.where != Slot::Where::Local) result = driver_->Settle(index, op, result);
  if (slot.waiting_fd >= 0) {
    // (Detach() may have cleared the counts of an environment going away.)
    const size_t fd = static_cast<size_t>(slot.waiting_fd);
    std::vector<uint32_t>& counts = slot.transfer ? transfer_fds_ : waiting_fds_;
    if (fd < counts.size() && counts[fd] > 0 && --counts[fd] == 0 && !slot.transfer) waiting_descriptors_--;
    slot.waiting_fd = -1;
  }
  if (Continue(index, &result)) return;
  if (result >= 0) {
    if (op.stat != nullptr && HasTrait(op.opcode, kFillsStat)) FillStatRecord(buffers_.StatRecord(index), *op.stat);
    if (op.address != nullptr && HasTrait(op.opcode, kFillsAddress)) {
      EncodeAddressRecord(op.address->storage, op.address->length, buffers_.AddressRecord(index));
    }
  }
  slot.busy = false;
  slot.storage.path.clear();
  slot.storage.path2.clear();
  // A chain goes on with its next member, or ends here.
  std::shared_ptr<std::deque<uint16_t>> rest = std::move(slot.chain);
  slot.chain.reset();
  if (rest != nullptr && !rest->empty()) {
    const bool failed = result < 0 || (HasTrait(op.opcode, kTransfer) && static_cast<uint64_t>(result) < op.expected);
    if (failed || host_ == nullptr) {
      for (uint16_t later : *rest) PostLocal(later, UV_ECANCELED);
      rest->clear();
    } else {
      uint16_t next = rest->front();
      rest->pop_front();
      slots_[next].chain = rest;
      Launch(next);
      if (slots_[next].where == Slot::Where::Submitted) host_->Flush();
    }
  }
  ready_.push_back({index, 0, result, 0});
}

bool EngineCore::Continue(uint16_t index, int32_t* result) {
  Slot& slot = slots_[index];
  Operation& op = slot.op;
  // (Asked first: every other operation ends with its result, and this is asked for each one.)
  switch (op.opcode) {
    case PROACTOR_OP_ACCEPT:
    case PROACTOR_OP_READ:
    case PROACTOR_OP_WRITE:
    case PROACTOR_OP_READV:
    case PROACTOR_OP_WRITEV:
      break;
    default:
      return false;
  }
  // Only results from the mechanism or the pool, and only while the host is there and not
  // draining for teardown (which waits for what is in the mechanism to end).
  const bool may_restart = slot.where != Slot::Where::Local && host_ != nullptr && !host_->torn_down();
  switch (op.opcode) {
    case PROACTOR_OP_ACCEPT:
      if (*result != UV_ECONNABORTED) return false;
      // Not once a cancel was asked for: it may have reached the mechanism already, and would
      // miss the new request.
      if (!may_restart || slot.cancel_requested) {
        *result = UV_ECANCELED;
        return false;
      }
      Launch(index);
      if (slots_[index].where == Slot::Where::Submitted) host_->Flush();
      return true;
    case PROACTOR_OP_READ:
    case PROACTOR_OP_WRITE:
    case PROACTOR_OP_READV:
    case PROACTOR_OP_WRITEV: {
      const int32_t piece = *result;
      if (piece == UV_EAGAIN && slot.where == Slot::Where::Pool && slot.transferred == 0) {
        // A non-blocking descriptor, not ready: waits for it where the mechanism can
        // (EngineDriver::AwaitReady). A cancel asked for meanwhile ends it instead.
        if (!may_restart || slot.cancel_requested) {
          *result = UV_ECANCELED;
          return false;
        }
        const Start start = driver_->AwaitReady(index, OperationTag(slot.generation, id_, index), op, result);
        if (start != Start::WaitReadable && start != Start::WaitWritable) return false;
        slot.where = Slot::Where::Submitted;
        CountWaiting(slot);
        return true;
      }
      if (may_restart && piece > 0 && static_cast<uint64_t>(piece) < TransferLeft(op) &&
          ContinuesShortTransfer(op, static_cast<uint32_t>(piece))) {
        slot.transferred += static_cast<uint32_t>(piece);
        SkipTransferred(&op, static_cast<uint32_t>(piece));
        Launch(index);
        if (slots_[index].where == Slot::Where::Submitted) host_->Flush();
        return true;
      }
      // An error after some bytes moved reports those bytes, as write(2) does; the next
      // operation meets the error.
      if (slot.transferred > 0) *result = static_cast<int32_t>(slot.transferred + static_cast<uint32_t>(std::max(piece, 0)));
      return false;
    }
    default:
      return false;
  }
}

uint32_t EngineCore::DeliverReady(Napi::Env env, napi_value* exception, bool* js_gone) {
  uint32_t total = 0;
  proactor_cqe* out = buffers_.completions();
  const uint32_t capacity = buffers_.completion_capacity();
  std::vector<uint32_t> lent; /* provided buffers whose data this batch hands over */
  while (!ready_.empty() && !closed_) {
    uint32_t n = 0;
    uint32_t finals = 0;
    if (++delivery_batch_ == 0) delivery_batch_ = 1;
    lent.clear();
    while (n < capacity && !ready_.empty()) {
      const Result& r = ready_.front();
      if ((r.flags & PROACTOR_CQE_F_MORE) == 0) {
        finals++;
      } else if (slots_[r.slot].op.opcode == PROACTOR_OP_ACCEPT_MULTI) {
        // The slot has one address record: one connection per slot per batch.
        Slot& slot = slots_[r.slot];
        if (slot.delivered_batch == delivery_batch_) break;
        slot.delivered_batch = delivery_batch_;
        SocketAddress peer;
        PeerAddress(r.result, &peer);
        EncodeAddressRecord(peer.storage, peer.length, buffers_.AddressRecord(r.slot));
      }
      if ((r.flags & PROACTOR_CQE_F_BUFFER) != 0) lent.push_back(r.buffer);
      out[n].slot = r.slot;
      out[n].flags = r.flags;
      out[n].result = r.result;
      out[n].buffer = r.buffer;
      ready_.pop_front();
      n++;
    }
    in_flight_ -= finals;
    total += n;
    in_complete_ = true;
    napi_status status = buffers_.Complete(env, n, exception);
    in_complete_ = false;
    // The queue copied the data out during complete(): the buffers go back to the mechanism.
    if (!lent.empty() && !closed_) driver_->BuffersDelivered(lent);
    if (status == napi_pending_exception && *exception != nullptr) break;
    if (status != napi_ok) {
      *js_gone = true;
      break;
    }
  }
  if (!closed_) UpdateRef();
  return total;
}

void EngineCore::CancelSubmitted() {
  for (uint32_t i = 0; i < slots_.size(); i++) {
    if (slots_[i].busy && slots_[i].where == Slot::Where::Submitted) QueueCancel(i);
  }
}

bool EngineCore::HasSubmitted() const {
  for (const Slot& slot : slots_) {
    if (slot.busy && slot.where == Slot::Where::Submitted) return true;
  }
  return false;
}

void EngineCore::UpdateRef() {
  const bool busy = in_flight_ > 0;
  if (host_ != nullptr) host_->SetWantsRef(id_, busy && user_ref_);
  if (busy != kept_alive_) {
    kept_alive_ = busy;
    driver_->KeepAlive(busy);
  }
}

// ---- waitSync, ref, close ------------------------------------------------------------------

uint32_t EngineCore::WaitSync(Napi::Env env, uint32_t min, double timeout_ms) {
  if (closed_ || host_ == nullptr) throw CodedError(env, "ERR_PROACTOR_QUEUE_DESTROYED", std::string("the ") + name_ + " engine is closed");
  if (in_complete_) {
    // Its completion buffer is being read by the callback that called us.
    throw CodedError(env, "ERR_INVALID_STATE", "waitSync() cannot be called from a completion of the same queue");
  }
  using Clock = std::chrono::steady_clock;
  const bool bounded = timeout_ms >= 0;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::microseconds(static_cast<int64_t>(bounded ? timeout_ms * 1000 : 0));
  napi_value exception = nullptr;
  EnvHost* host = host_;
  uint32_t delivered = host->Dispatch(env, this, &exception);
  while (exception == nullptr && delivered < min && in_flight_ > 0 && !closed_ && !host->js_gone()) {
    int64_t remaining_ns = -1;
    if (bounded) {
      remaining_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count();
      if (remaining_ns <= 0) break;
    }
    int r = host->Wait(remaining_ns);
    if (r < 0 && r != UV_ETIMEDOUT) throw SystemError(env, r, host->wait_syscall());
    delivered += host->Dispatch(env, this, &exception);
    if (r == UV_ETIMEDOUT) break;
  }
  if (exception != nullptr) throw Napi::Error(env, exception);
  return delivered;
}

void EngineCore::SetUserRef(bool ref) {
  user_ref_ = ref;
  if (!closed_) UpdateRef();
}

void EngineCore::Close() {
  if (closed_) return;
  closed_ = true;
  Leave(false);
}

void EngineCore::Finalize() { Leave(true); }

void EngineCore::Leave(bool in_finalizer) {
  driver_->Release(host_ != nullptr);
  if (host_ != nullptr) host_->Unregister(id_);
  host_ = nullptr;
  if (kept_alive_ && !in_finalizer) driver_->KeepAlive(false);
  kept_alive_ = false;
}

void EngineCore::Detach() {
  // The environment is going away: its host drained what it could; nothing is delivered now.
  host_ = nullptr;
  closed_ = true;
  driver_->Release(false);
  waiting_fds_.clear();
  transfer_fds_.clear();
  waiting_descriptors_ = 0;
  if (kept_alive_) driver_->KeepAlive(false);
  kept_alive_ = false;
}

void EngineCore::FillInfo(Napi::Object out) const {
  out.Set("inFlight", in_flight_);
  out.Set("multishotItems", static_cast<double>(multishot_items_));
  out.Set("readyToDeliver", static_cast<uint32_t>(ready_.size()));
  out.Set("waitingDescriptors", waiting_descriptors_);
}

}  // namespace proactor
