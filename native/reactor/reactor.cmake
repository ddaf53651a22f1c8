# proactor_reactor_addon(<target> <poller>...): the readiness reactor addon (this folder) with
# the given pollers compiled in (epoll, kqueue, poll; <poller>_poller.cc each, announced to the
# engine as PROACTOR_REACTOR_<POLLER>), after native/cmake/addon.cmake was included. The pollers
# without a descriptor the loop can watch (poll(2), libkqueue's kqueue) relay through a
# PollerThread, which is always compiled in.
function(proactor_reactor_addon target)
  set(sources
    ${PROACTOR_NATIVE}/reactor/addon.cc
    ${PROACTOR_NATIVE}/reactor/engine.cc
    ${PROACTOR_NATIVE}/reactor/host.cc
    ${PROACTOR_NATIVE}/reactor/linux_aio.cc
    ${PROACTOR_NATIVE}/reactor/socket_calls.cc
    ${PROACTOR_NATIVE}/reactor/poller_thread.cc)
  set(definitions)
  foreach(poller ${ARGN})
    list(APPEND sources ${PROACTOR_NATIVE}/reactor/${poller}_poller.cc)
    string(TOUPPER "${poller}" name)
    list(APPEND definitions PROACTOR_REACTOR_${name})
  endforeach()
  proactor_addon(${target} ${sources})
  target_compile_definitions(${target} PRIVATE ${definitions})
endfunction()
