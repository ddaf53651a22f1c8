#!/usr/bin/env bash
# test-backend.sh <backend package> [module]: the conformance suite, then the differential runner
# against aio-node, on one built backend (the CI jobs of one mechanism: kqueue on macOS and
# FreeBSD, the libkqueue variant and the poll(2) poller in .ci/run). [module] is a module path
# that default-exports a variant of the backend (e.g. another poller); default: the package.
# Fails when either run reports a failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
package="$1"
target="${2:-$1}"
dir="$root/packages/${package#@proactor/}"
cli="$root/packages/aio-conformance/dist/cli.js"
cd "$dir"
echo "== conformance: $target"
node "$cli" "$target" --quiet
echo "== differential: $target vs @proactor/aio-node"
node "$cli" "$target" --differential --against @proactor/aio-node --scripts 10 --kinds files,sockets
