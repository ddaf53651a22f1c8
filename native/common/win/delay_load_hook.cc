/*
 * The delay-load hook of a MinGW-built addon (see native/cmake/addon.cmake). The addon imports
 * Node-API from "NODE.EXE" through a delay-load import library; on the first call the hook
 * answers with the module of the running process itself, which exports Node-API whatever its
 * file is called (a renamed node.exe, an application embedding Node). MSVC builds get the same
 * hook from cmake-js (win_delay_load_hook.cc).
 */
#include <windows.h>

#include <delayimp.h>

namespace {

FARPROC WINAPI NodeModuleHook(unsigned event, PDelayLoadInfo info) {
  if (event != dliNotePreLoadLibrary || info == nullptr || info->szDll == nullptr) return nullptr;
  if (lstrcmpiA(info->szDll, "node.exe") != 0) return nullptr;
  return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
}

}  // namespace

// delayimp.h declares it extern "C"; this defines it (a declaration with an initializer, as
// GCC warns for "extern" with one).
PfnDliHook __pfnDliNotifyHook2 = NodeModuleHook;
