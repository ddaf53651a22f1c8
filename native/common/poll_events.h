/*
 * PROACTOR_POLL_* events (abi.h) to and from the platform's poll(2) bits.
 */
#ifndef PROACTOR_POLL_EVENTS_H
#define PROACTOR_POLL_EVENTS_H

#include <poll.h>

#include <cstdint>

#include "../include/proactor/abi.h"

namespace proactor {

/* The events asked for: IN, OUT and RDHUP (ERR and HUP are always reported). */
inline uint32_t NativePollEvents(uint32_t events) {
  uint32_t out = 0;
  if (events & PROACTOR_POLL_IN) out |= POLLIN;
  if (events & PROACTOR_POLL_OUT) out |= POLLOUT;
#ifdef POLLRDHUP
  if (events & PROACTOR_POLL_RDHUP) out |= POLLRDHUP;
#endif
  return out;
}

/* The events that are ready, as PROACTOR_POLL_* bits. */
inline uint32_t PortablePollEvents(uint32_t revents) {
  uint32_t out = 0;
  if (revents & POLLIN) out |= PROACTOR_POLL_IN;
  if (revents & POLLOUT) out |= PROACTOR_POLL_OUT;
  if (revents & POLLERR) out |= PROACTOR_POLL_ERR;
  if (revents & POLLHUP) out |= PROACTOR_POLL_HUP;
#ifdef POLLRDHUP
  if (revents & POLLRDHUP) out |= PROACTOR_POLL_RDHUP;
#endif
  return out;
}

}  // namespace proactor

#endif  // PROACTOR_POLL_EVENTS_H
