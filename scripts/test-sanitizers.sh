#!/usr/bin/env bash
# Builds the io_uring addon and the epoll reactor addon with AddressSanitizer + UBSan and runs the
# conformance suite and the differential runner on each. Node itself is not instrumented, so the
# ASan runtime is preloaded; leak checking is left to LeakSanitizer's report of our own frames
# (Node's allocations at exit are not ours), so detect_leaks is off here and the suite's own
# fd/ring leak tests stand in.
set -euo pipefail
packages="$(cd "$(dirname "$0")/../packages" && pwd)"
# Built before the runtime is preloaded (cmake and the compiler need not run under it).
asan_build() { # <package dir> <addon file name>: prints the addon's path
  (cd "$packages/$1" && pnpm run build:asan >/dev/null)
  local addon
  addon=$(find "$packages/$1/build/asan" -name "$2" | head -n 1)
  [ -n "$addon" ] || { echo "sanitizer build of $1 produced no $2" >&2; exit 1; }
  echo "$addon"
}
export PROACTOR_URING_ADDON="$(asan_build aio-uring proactor_uring.node)"
export PROACTOR_EPOLL_ADDON="$(asan_build aio-epoll proactor_epoll.node)"
asan=$(${CXX:-g++} -print-file-name=libasan.so)
ubsan=$(${CXX:-g++} -print-file-name=libubsan.so)
export LD_PRELOAD="$asan $ubsan"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cli="$packages/aio-conformance/dist/cli.js"

cd "$packages/aio-uring"
echo "== conformance on the sanitizer build ($PROACTOR_URING_ADDON)"
node "$cli" @proactor/aio-uring --quiet
echo "== differential on the sanitizer build"
node "$cli" @proactor/aio-uring --differential --scripts 5 --kinds files,direct,sockets
echo "== socket churn on the sanitizer build (multishot, tiny buffer pool, closes while waiting)"
node test/fixtures/churn.mjs 10

cd "$packages/aio-epoll"
echo "== epoll reactor: conformance on the sanitizer build ($PROACTOR_EPOLL_ADDON)"
# 50 workers instead of 200 in the worker-load case: the sanitizer run is for memory errors, and the
# full count runs unsanitized in pnpm test.
PROACTOR_LOAD_WORKERS=50 node "$cli" @proactor/aio-epoll --quiet
echo "== epoll reactor: differential on the sanitizer build"
node "$cli" @proactor/aio-epoll --differential --scripts 5 --kinds files,direct,sockets
echo "== epoll reactor: socket churn on the sanitizer build (emulated multishot, tiny receive pool, closes while waiting)"
node test/fixtures/churn.mjs 5
