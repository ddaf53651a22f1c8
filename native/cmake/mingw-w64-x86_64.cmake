# CMake toolchain file: cross-builds an addon for win32-x64 on Linux with mingw-w64 (Debian's
# mingw-w64 package), as scripts/windows-build.sh does:
#   cmake -S packages/aio-iocp -B <dir> -DCMAKE_TOOLCHAIN_FILE=native/cmake/mingw-w64-x86_64.cmake
#
# The posix thread model of the compiler (x86_64-w64-mingw32-g++-posix): gcc 12's win32 model has
# no std::thread / std::mutex, which the blocking pool uses. addon.cmake links with -static, so the
# addon needs no libwinpthread / libstdc++ DLL next to it, and makes node.exe's import library
# from node-api-headers (see proactor_node_import_library there).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR AMD64)
set(PROACTOR_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${PROACTOR_MINGW_PREFIX}-gcc-posix)
set(CMAKE_CXX_COMPILER ${PROACTOR_MINGW_PREFIX}-g++-posix)
set(CMAKE_RC_COMPILER ${PROACTOR_MINGW_PREFIX}-windres)
set(CMAKE_DLLTOOL ${PROACTOR_MINGW_PREFIX}-dlltool)
set(CMAKE_FIND_ROOT_PATH /usr/${PROACTOR_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
