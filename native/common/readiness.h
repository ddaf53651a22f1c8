/*
 * Readiness events: the portable PROACTOR_POLL_* bits of the ABI, and the two ways platforms
 * express them: poll(2)/epoll bits (a mask of events per descriptor) and kqueue filters (one
 * registration per direction, EOF and errors as flags of the event).
 */
#ifndef PROACTOR_COMMON_READINESS_H
#define PROACTOR_COMMON_READINESS_H

#include <cstdint>

#include "proactor/abi.h"

#ifndef _WIN32
#include <poll.h>
#endif

namespace proactor {

/* ---- kqueue filters (header-free: a kqueue engine passes EVFILT_READ / EVFILT_WRITE facts) ---- */

/* The filters to register for the events asked for: RDHUP is seen on the read filter (EV_EOF). */
struct ReadinessFilters {
  bool read = false;
  bool write = false;
};

inline ReadinessFilters FiltersFor(uint32_t events) {
  ReadinessFilters f;
  f.read = (events & (PROACTOR_POLL_IN | PROACTOR_POLL_RDHUP)) != 0;
  f.write = (events & PROACTOR_POLL_OUT) != 0;
  return f;
}

/* The PROACTOR_POLL_* events one kqueue event reports, limited to those asked for (ERR and HUP
 * always): a read filter event is IN, plus RDHUP with EV_EOF; a write filter event is OUT, or
 * HUP with EV_EOF (the peer is gone); EV_ERROR is ERR. */
inline uint32_t PortableFilterEvents(bool read_filter, bool eof, bool error, uint32_t asked) {
  uint32_t out = 0;
  if (error) out |= PROACTOR_POLL_ERR;
  if (read_filter) {
    out |= PROACTOR_POLL_IN;
    if (eof) out |= PROACTOR_POLL_RDHUP;
  } else {
    out |= eof ? PROACTOR_POLL_HUP : PROACTOR_POLL_OUT;
  }
  return out & (asked | PROACTOR_POLL_ERR | PROACTOR_POLL_HUP);
}

#ifndef _WIN32
/* ---- poll(2) / epoll bits (epoll's EPOLLIN etc. have poll's values on Linux) ---- */

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
#endif  // _WIN32

}  // namespace proactor

#endif  // PROACTOR_COMMON_READINESS_H
