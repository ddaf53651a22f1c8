#!/usr/bin/env bash
# Cross-builds the IOCP addon for win32-x64 on Linux with mingw-w64:
#   packages/aio-iocp/build/Release/aio_iocp.node (what a Windows prebuild would ship);
#   with --faults, the fault-injection build (-DPROACTOR_FAULTS=ON, native/common/fault_schedule.h)
#   in a build directory of its own: packages/aio-iocp/build/faults/Release/aio_iocp.node.
# Installs mingw-w64 from Debian when missing (apt-get update first). See
# native/cmake/mingw-w64-x86_64.cmake and native/cmake/addon.cmake for how it links.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v x86_64-w64-mingw32-g++-posix >/dev/null 2>&1; then
  echo "== apt-get install mingw-w64"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mingw-w64 >/dev/null
fi

build=packages/aio-iocp/build
faults=OFF
if [ "${1:-}" = --faults ]; then
  build=packages/aio-iocp/build/faults
  faults=ON
fi
# A tree configured for another toolchain (or another checkout) is not reused.
if [ -f "$build/CMakeCache.txt" ] && ! grep -q "mingw-w64-x86_64.cmake" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
if [ -f "$build/CMakeCache.txt" ] && ! grep -q "CMAKE_HOME_DIRECTORY:INTERNAL=$(pwd)/packages/aio-iocp$" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
cmake -S packages/aio-iocp -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$(pwd)/native/cmake/mingw-w64-x86_64.cmake" -DPROACTOR_FAULTS=$faults >/dev/null
cmake --build "$build" --parallel 2
echo "windows-build: $build/Release/aio_iocp.node"
