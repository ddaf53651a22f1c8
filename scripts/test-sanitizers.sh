#!/usr/bin/env bash
# Builds the io_uring addon with AddressSanitizer + UBSan and runs the conformance suite and the
# differential runner on it. Node itself is not instrumented, so the ASan runtime is preloaded;
# leak checking is left to LeakSanitizer's report of our own frames (Node's allocations at exit
# are not ours), so detect_leaks is off here and the suite's own fd/ring leak tests stand in.
set -euo pipefail
cd "$(dirname "$0")/../packages/aio-uring"
pnpm run build:asan >/dev/null
addon=$(find build/asan -name 'proactor_uring.node' | head -n 1)
[ -n "$addon" ] || { echo "sanitizer build produced no addon" >&2; exit 1; }
asan=$(${CXX:-g++} -print-file-name=libasan.so)
ubsan=$(${CXX:-g++} -print-file-name=libubsan.so)
export PROACTOR_URING_ADDON="$PWD/$addon"
export LD_PRELOAD="$asan $ubsan"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cli=../aio-conformance/dist/cli.js
echo "== conformance on the sanitizer build ($addon)"
node "$cli" @proactor/aio-uring --quiet
echo "== differential on the sanitizer build"
node "$cli" @proactor/aio-uring --differential --scripts 5
echo "== socket churn on the sanitizer build (multishot, tiny buffer pool, closes while waiting)"
node test/fixtures/churn.mjs 10
