#!/usr/bin/env bash
# Builds every native addon this machine builds with fault injection compiled in
# (-DPROACTOR_FAULTS=ON, a build directory of its own: release builds and prebuilds never have it)
# and runs the fault-injection suite on each of its backends (scripts/test-faults.mjs: seeded runs
# of the conformance suite and the differential runner, then the fault cases): io_uring, the
# reactor over epoll and over poll(2) (aio-epoll), and over kqueue (aio-kqueue's Linux variant,
# when scripts/libkqueue.mjs built libkqueue; its build says so in one line when not).
#
# Bounded for CI: io_uring runs 4 seeds over the whole suite (a quarter each); the reactor runs
# half of the suite on epoll (2 seeds of a 4-way deal) and a quarter on each second poller,
# poll(2) and kqueue (1 seed), which run the same engine: a different part each run, as the deal
# rotates with the first seed. On epoll and poll(2) every seed also runs all the direct I/O cases
# and direct differential scripts with the Linux AIO sites (aio-epoll's direct I/O), where the
# temporary directory takes O_DIRECT. Every backend gets its fault cases in full. FAULT_SEEDS sets the
# seeds of every backend (each seed still takes a quarter of the suite, or 1/FAULT_SEEDS when
# FAULT_SEEDS is more than 4), FAULT_FIRST_SEED the first seed (default: from the clock; every run prints its
# seeds). Fails when any backend's run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd packages/aio-uring && pnpm run build:faults >/dev/null)
(cd packages/aio-epoll && pnpm run build:faults >/dev/null)
# (Its one "skipped: ..." line is shown when there is no libkqueue; the build's output on failure.)
kqueue_build=$(cd packages/aio-kqueue && pnpm run build:faults 2>&1) || { echo "$kqueue_build"; exit 1; }
grep '^skipped' <<<"$kqueue_build" || true

status=0
run() { # <backend> <seeds> <hands: the suite dealt into this many parts, one per seed>
  local args=(--backend "$1" --seeds "${FAULT_SEEDS:-$2}" --hands "$3")
  [ -n "${FAULT_FIRST_SEED:-}" ] && args+=(--first-seed "$FAULT_FIRST_SEED")
  echo "== fault injection: $1"
  node scripts/test-faults.mjs "${args[@]}" || status=1
}
run uring 4 4
run epoll 2 4
run poll 1 4
if [ -f packages/aio-kqueue/build/faults/Release/proactor_kqueue.node ]; then
  run kqueue 1 4
else
  echo "== fault injection: kqueue skipped (no fault build of aio-kqueue here: it needs libkqueue on Linux)"
fi
exit $status
