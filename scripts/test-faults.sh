#!/usr/bin/env bash
# Builds the io_uring addon with fault injection compiled in (-DPROACTOR_FAULTS=ON, its own build
# directory: release builds and prebuilds never have it) and runs the fault-injection suite on it
# (scripts/test-faults.mjs: seeded runs of the conformance suite and the differential runner, then
# the fault cases). FAULT_SEEDS (default 4) seeds per run, starting at FAULT_FIRST_SEED (default:
# from the clock; every run prints its seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
(cd packages/aio-uring && pnpm run build:faults >/dev/null)
args=(--seeds "${FAULT_SEEDS:-4}")
[ -n "${FAULT_FIRST_SEED:-}" ] && args+=(--first-seed "$FAULT_FIRST_SEED")
node scripts/test-faults.mjs "${args[@]}"
