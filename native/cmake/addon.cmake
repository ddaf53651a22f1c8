# What every proactor addon shares: C++17 and warning flags, the Node-API and libuv headers, and
# proactor_common, a static library of native/common (the engine core, the environment host, the
# operation table and each operation's system calls, the blocking pool, the wakeup).
#
# In an addon's CMakeLists.txt (built by cmake-js):
#   set(PROACTOR_NATIVE <path to native/>)
#   include(${PROACTOR_NATIVE}/cmake/addon.cmake)
#   proactor_addon(<target> <sources of the engine>...)
#
# libuv's uv.h comes from the running Node's own headers (<prefix>/include/node), or from
# -DPROACTOR_UV_INCLUDE=<dir> (or the environment variable of that name: Node's Windows zip has no
# headers, so the windows-latest job unpacks Node's header tarball and names it). -DPROACTOR_SANITIZE=ON builds with AddressSanitizer + UBSan.
# -DPROACTOR_FAULTS=ON compiles in the seeded fault schedule (native/common/fault_schedule.h) for
# the fault-injection runs (scripts/test-faults.mjs); release builds and prebuilds leave it out.
# -DPROACTOR_KEEP_SYMBOLS=ON links without stripping (the same code, with its symbols), for
# profiling: e.g. callgrind's instructions per function (bench/results/engine-core-ab.md).
#
# Every addon is a portable binary (GCC, not sanitizer builds): libstdc++ and libgcc linked in, so
# it needs only libc, and on x86-64 glibc every symbol bound to its oldest version
# (native/common/glibc_baseline.cc says how), so it loads on glibc 2.28.
#
# Windows: the Windows half of native/common (common/win/). Cross-built on Linux with mingw-w64
# (-DCMAKE_TOOLCHAIN_FILE=native/cmake/mingw-w64-x86_64.cmake, see that file): linked -static
# against a delay-load import library of node.exe that dlltool makes from node-api-headers'
# node_api.def, and common/win/delay_load_hook.cc, which resolves "node.exe" to the process's
# own module (a renamed node.exe, or an executable embedding Node).
include_guard(GLOBAL)

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release)
endif()

if(NOT PROACTOR_UV_INCLUDE AND DEFINED ENV{PROACTOR_UV_INCLUDE})
  set(PROACTOR_UV_INCLUDE "$ENV{PROACTOR_UV_INCLUDE}")
endif()
if(NOT PROACTOR_UV_INCLUDE)
  execute_process(
    COMMAND node -p "require('path').resolve(process.execPath, '..', '..', 'include', 'node')"
    OUTPUT_VARIABLE PROACTOR_UV_INCLUDE OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
if(NOT EXISTS "${PROACTOR_UV_INCLUDE}/uv.h")
  message(FATAL_ERROR "uv.h not found in '${PROACTOR_UV_INCLUDE}': pass -DPROACTOR_UV_INCLUDE=<dir with uv.h>")
endif()

execute_process(
  COMMAND node -p "require('node-addon-api').include_dir"
  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
  OUTPUT_VARIABLE NODE_ADDON_API_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)

# A build without cmake-js (the mingw-w64 cross build): the Node-API headers from node-api-headers.
if(NOT CMAKE_JS_INC)
  execute_process(
    COMMAND node -p "require('node-api-headers').include_dir"
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    OUTPUT_VARIABLE CMAKE_JS_INC OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

find_package(Threads REQUIRED)

include(CheckCXXSourceCompiles)
check_cxx_source_compiles("#include <features.h>\n#ifndef __GLIBC__\n#error not glibc\n#endif\nint main() { return 0; }" PROACTOR_GLIBC)
# Not for sanitizer builds, whose runtime intercepts pthread_create.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND NOT PROACTOR_SANITIZE AND NOT WIN32)
  set(PROACTOR_PORTABLE_BINARY ON)
else()
  set(PROACTOR_PORTABLE_BINARY OFF)
endif()

# Flags, definitions and include directories of everything compiled into an addon.
function(proactor_native_settings target)
  # cmake-js's include directories (node-api-headers) come first, so Node's own copy of
  # node_api.h next to uv.h is never picked up.
  # MSVC: the Node-API headers as external (/external:I, /external:W0), as uv.h below, so that /W4
  # judges our code only; GCC and clang keep warning in them, as before.
  if(MSVC)
    set(proactor_node_api_system SYSTEM)
  else()
    set(proactor_node_api_system)
  endif()
  target_include_directories(${target} ${proactor_node_api_system} PRIVATE
    ${CMAKE_JS_INC}
    ${NODE_ADDON_API_DIR})
  target_include_directories(${target} PRIVATE ${PROACTOR_NATIVE}/include)
  target_include_directories(${target} SYSTEM AFTER PRIVATE ${PROACTOR_UV_INCLUDE})
  # A call into the addon while its environment is being torn down (a worker being terminated
  # can still be running JavaScript) fails inside node-addon-api (napi_unwrap, napi_throw):
  # without SWALLOW_UNTHROWABLE the Napi::Error it turns into cannot be thrown either, and the
  # second throw from inside its catch block aborts the whole process. _CPP_EXCEPTIONS_ALL turns
  # any other C++ exception (std::bad_alloc) escaping an entry point into a JavaScript error
  # instead of std::terminate.
  target_compile_definitions(${target} PRIVATE
    NAPI_VERSION=8 NAPI_CPP_EXCEPTIONS NODE_ADDON_API_CPP_EXCEPTIONS_ALL NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
    NODE_ADDON_API_DISABLE_DEPRECATED)
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
  endif()
  if(WIN32)
    # Windows 10 (Node 20's oldest); wide-character Win32 calls; no min/max macros.
    target_compile_definitions(${target} PRIVATE WIN32_LEAN_AND_MEAN NOMINMAX _WIN32_WINNT=0x0A00 UNICODE _UNICODE)
  endif()
  if(MSVC)
    # /W4 without /WX while no windows-latest run has passed: scripts/windows-msvc-check.mjs holds
    # the Windows sources to clang's counterparts of /W4 as errors on every .ci/run, so what /WX
    # would add is only what no check here sees (C4127, C4324, C4245, MSVC's STL and front end),
    # and stopping there would hide whether the suite passes on Windows. /WX returns after a clean run.
    target_compile_options(${target} PRIVATE /W4 /EHsc)
  elseif(WIN32)
    # PE has no ELF visibility: exports are __declspec(dllexport) (NAPI_MODULE_EXPORT).
    target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -fvisibility=hidden)
  endif()
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(PROACTOR_PORTABLE_BINARY)
    target_compile_options(${target} PRIVATE -ffunction-sections -fdata-sections)
  endif()
  if(PROACTOR_FAULTS)
    target_compile_definitions(${target} PRIVATE PROACTOR_FAULTS)
  endif()
  if(PROACTOR_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  elseif(NOT WIN32 AND NOT MSVC)
    # Link-time optimization: the engine core (this static library) and each driver call each
    # other per operation across files (EngineCore::Active, the traits, Decode); without it none
    # of those calls is inlined (bench/results/engine-core-ab.md).
    # Only where CMake finds it works (the compiler's and archiver's LTO support); elsewhere the
    # build goes on without it.
    include(CheckIPOSupported)
    check_ipo_supported(RESULT proactor_ipo_supported LANGUAGES CXX)
    if(proactor_ipo_supported)
      set_property(TARGET ${target} PROPERTY INTERPROCEDURAL_OPTIMIZATION ON)
    endif()
  endif()
endfunction()

if(NOT TARGET proactor_common)
  set(PROACTOR_COMMON_SOURCES
    ${PROACTOR_NATIVE}/common/blocking_pool.cc
    ${PROACTOR_NATIVE}/common/engine_core.cc
    ${PROACTOR_NATIVE}/common/env_host.cc
    ${PROACTOR_NATIVE}/common/fault_schedule.cc
    ${PROACTOR_NATIVE}/common/loop_poll.cc
    ${PROACTOR_NATIVE}/common/operation.cc
    ${PROACTOR_NATIVE}/common/operation_table.cc
    ${PROACTOR_NATIVE}/common/queue_buffers.cc
    ${PROACTOR_NATIVE}/common/receive_pool.cc
    ${PROACTOR_NATIVE}/common/resource_views.cc)
  if(WIN32)
    # No loop_poll.cc: uv_poll needs libuv's symbols, which node.exe's import library lacks.
    list(REMOVE_ITEM PROACTOR_COMMON_SOURCES ${PROACTOR_NATIVE}/common/loop_poll.cc)
    list(APPEND PROACTOR_COMMON_SOURCES
      ${PROACTOR_NATIVE}/common/win/calls.cc
      ${PROACTOR_NATIVE}/common/win/error_table.cc
      ${PROACTOR_NATIVE}/common/win/handle_table.cc
      ${PROACTOR_NATIVE}/common/win/loop_wakeup.cc)
  else()
    list(APPEND PROACTOR_COMMON_SOURCES
      ${PROACTOR_NATIVE}/common/posix/calls.cc
      ${PROACTOR_NATIVE}/common/posix/loop_wakeup.cc
      ${PROACTOR_NATIVE}/common/posix/signal_descriptor.cc)
  endif()
  add_library(proactor_common STATIC ${PROACTOR_COMMON_SOURCES})
  proactor_native_settings(proactor_common)
  target_link_libraries(proactor_common PUBLIC Threads::Threads)
  if(WIN32)
    target_link_libraries(proactor_common PUBLIC ws2_32 mswsock)
  endif()
endif()

# MinGW: node.exe's delay-load import library, made once per build tree from node_api.def.
if(MINGW AND NOT TARGET proactor_node_import)
  execute_process(
    COMMAND node -p "require('node-api-headers').def_paths.node_api_def"
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    OUTPUT_VARIABLE PROACTOR_NODE_API_DEF OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT CMAKE_DLLTOOL)
    set(CMAKE_DLLTOOL x86_64-w64-mingw32-dlltool)
  endif()
  set(PROACTOR_NODE_IMPORT ${CMAKE_BINARY_DIR}/libnode_delay.a)
  add_custom_command(
    OUTPUT ${PROACTOR_NODE_IMPORT}
    # -y: a delay-load library (resolved on first call, through the hook); -l would bind to a
    # module named node.exe at load time, which breaks when the executable has another name.
    COMMAND ${CMAKE_DLLTOOL} -d ${PROACTOR_NODE_API_DEF} -y ${PROACTOR_NODE_IMPORT}
    DEPENDS ${PROACTOR_NODE_API_DEF}
    VERBATIM)
  add_custom_target(proactor_node_import DEPENDS ${PROACTOR_NODE_IMPORT})
endif()

# A Node-API addon (<target>.node) of the given sources, linked with proactor_common.
# glibc_baseline.cc is compiled into the addon itself rather than the static library: its
# __wrap_ definitions must be linked whether or not an archive member happens to be pulled in.
function(proactor_addon target)
  if(MINGW)
    add_library(${target} SHARED ${ARGN} ${PROACTOR_NATIVE}/common/win/delay_load_hook.cc)
    add_dependencies(${target} proactor_node_import)
    target_link_libraries(${target} PRIVATE proactor_common ${PROACTOR_NODE_IMPORT} delayimp)
    # No libstdc++ / libgcc / libwinpthread DLL to ship next to the addon.
    target_link_options(${target} PRIVATE -static LINKER:--gc-sections LINKER:-s)
  else()
    if(MSVC AND CMAKE_JS_NODELIB_DEF AND CMAKE_JS_NODELIB_TARGET AND NOT EXISTS ${CMAKE_JS_NODELIB_TARGET})
      # cmake-js links a Node-API addon against node.lib (CMAKE_JS_LIB) and leaves making it from
      # its .def file to the project.
      execute_process(COMMAND ${CMAKE_AR} /def:${CMAKE_JS_NODELIB_DEF} /out:${CMAKE_JS_NODELIB_TARGET}
                              ${CMAKE_STATIC_LINKER_FLAGS})
    endif()
    add_library(${target} SHARED ${ARGN} ${PROACTOR_NATIVE}/common/glibc_baseline.cc ${CMAKE_JS_SRC})
    if(NOT APPLE AND NOT MSVC)
      # Its .symver aliases are top-level asm, which link-time optimization does not see: an LTO
      # build of this file leaves proactor_old_* undefined (found in the fault builds).
      set_source_files_properties(${PROACTOR_NATIVE}/common/glibc_baseline.cc PROPERTIES COMPILE_OPTIONS -fno-lto)
    endif()
    target_link_libraries(${target} PRIVATE proactor_common ${CMAKE_JS_LIB})
    if(MSVC)
      # cmake-js links with /DELAYLOAD:NODE.EXE, whose helper (__delayLoadHelper2) is in delayimp.lib:
      # the Visual Studio generator adds it by itself, Ninja and NMake do not (cmake-js#231).
      target_link_libraries(${target} PRIVATE delayimp)
    endif()
  endif()
  set_target_properties(${target} PROPERTIES PREFIX "" SUFFIX ".node")
  proactor_native_settings(${target})
  if(PROACTOR_PORTABLE_BINARY)
    target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc LINKER:--gc-sections)
    if(NOT PROACTOR_KEEP_SYMBOLS)
      target_link_options(${target} PRIVATE LINKER:-s)
    endif()
    if(PROACTOR_GLIBC AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
      foreach(symbol pthread_create pthread_join pthread_detach pthread_once pthread_key_create
                     __pthread_key_create pthread_key_delete pthread_getspecific pthread_setspecific pthread_sigmask
                     __libc_single_threaded arc4random _dl_find_object)
        target_link_options(${target} PRIVATE "LINKER:--wrap=${symbol}")
      endforeach()
    endif()
  endif()
endfunction()
