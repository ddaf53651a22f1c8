#!/usr/bin/env bash
# The npm user's path, end to end: pack every publishable package (pnpm pack), install the
# tarballs with npm into an empty project outside the workspace with no compiler and no cmake on
# PATH, then from that project:
#   1. a script doing file I/O and a TCP round trip through createQueue(), on io_uring (Linux);
#   2. npx -p @proactor/aio-conformance proactor-conformance @proactor/aio-uring: 0 failed;
#   3. npx @proactor/aio info;
#   4. a TypeScript file using the public API, type-checked with the strictest settings by
#      TypeScript 5.9 and TypeScript 7 (no "types" in its tsconfig);
#   5. the shipped prebuild needs glibc <= 2.28 and no libstdc++;
# and then the same install with the prebuild removed and a compiler present: the install
# script builds the addon from the shipped sources, and 1. passes on it.
# Needs a built workspace (pnpm build). Ends with "pack-install: ok".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/scripts/pack-install"
work="$(mktemp -d "${TMPDIR:-/tmp}/proactor-pack-install-XXXXXX")"
trap 'rm -rf "$work"' EXIT
linux=false
[ "$(uname -s)" = Linux ] && linux=true

echo "== pack-install: pnpm pack (in $work)"
mkdir "$work/tarballs"
(cd "$root" && pnpm -r --filter './packages/*' --reporter=silent pack --pack-destination "$work/tarballs" >/dev/null)
for t in "$work"/tarballs/*.tgz; do
  printf '  %-40s %6s KiB\n' "$(basename "$t")" "$(( $(stat -c %s "$t") / 1024 ))"
  listing="$(tar tzf "$t")"
  if grep -q 'tsbuildinfo' <<<"$listing"; then echo "pack-install: $t ships a .tsbuildinfo"; exit 1; fi
  grep -qx 'package/LICENSE' <<<"$listing" || { echo "pack-install: $t has no LICENSE"; exit 1; }
done
uring_tgz="$(ls "$work"/tarballs/proactor-aio-uring-*.tgz)"
# A package whose "os" excludes this machine (aio-kqueue on Linux) is not installable here: npm
# refuses it (EBADPLATFORM), and @proactor/aio's optional dependency on it is skipped.
mkdir "$work/other-os"
for t in "$work"/tarballs/*.tgz; do
  if ! tar xzf "$t" -O package/package.json | node -e '
    const os = JSON.parse(require("fs").readFileSync(0, "utf8")).os;
    process.exit(!os || os.includes(process.platform) ? 0 : 1);'; then
    echo "  (not installed here: $(basename "$t") is for another OS)"
    mv "$t" "$work/other-os/"
  fi
done

# A PATH with node, npm, the shell tools npm needs and mkfifo (a conformance case makes a FIFO),
# and no compiler, cmake or make.
mkdir "$work/bin"
for tool in node sh bash env uname cat ls rm mkdir mkfifo dirname readlink sed grep mv cp chmod tar gzip; do
  ln -s "$(command -v "$tool")" "$work/bin/$tool"
done
npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")"
ln -s "$npm_cli/npm-cli.js" "$work/bin/npm"
ln -s "$npm_cli/npx-cli.js" "$work/bin/npx"
for tool in cc c++ gcc g++ clang cmake make ninja; do
  if PATH="$work/bin" command -v "$tool" >/dev/null 2>&1; then echo "pack-install: $tool is on the sandbox PATH"; exit 1; fi
done

new_project() { # <dir> [allowScripts JSON]: npm 11 runs a dependency's install script only when allowed
  mkdir -p "$1"
  cp "$here/smoke.mjs" "$here/public-api.ts" "$here/tsconfig.json" "$1/"
  printf '{ "name": "pack-install-app", "private": true, "type": "module", "allowScripts": %s }\n' "${2:-{\}}" >"$1/package.json"
}
npm_install() { # <dir> <args...>
  local dir="$1"; shift
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$@")
}

echo "== pack-install: npm install the tarballs, no compiler on PATH"
app="$work/app"
new_project "$app"
PATH="$work/bin" npm_install "$app" "$work"/tarballs/*.tgz
expect=""
$linux && expect=io_uring

echo "== pack-install: file and TCP round trip through createQueue()"
(cd "$app" && PATH="$work/bin" PROACTOR_EXPECT_BACKEND="$expect" node smoke.mjs)

echo "== pack-install: npx @proactor/aio info"
info="$(cd "$app" && PATH="$work/bin" NO_COLOR=1 npx --no-install @proactor/aio info)"
echo "$info"
$linux && { grep -q '^backend: io_uring$' <<<"$info" || { echo "pack-install: info did not choose io_uring"; exit 1; }; }

if $linux; then
  echo "== pack-install: npx -p @proactor/aio-conformance proactor-conformance @proactor/aio-uring"
  conformance="$(cd "$app" && PATH="$work/bin" npx --no-install -p @proactor/aio-conformance proactor-conformance @proactor/aio-uring --quiet)"
  echo "$conformance" | tail -2
  grep -Eq '^[0-9]+ passed, 0 failed, [0-9]+ skipped$' <<<"$conformance" || { echo "pack-install: conformance failed"; exit 1; }

  echo "== pack-install: the shipped prebuild's needs"
  prebuild="$(ls "$app"/node_modules/@proactor/aio-uring/prebuilds/linux-*/*.node)"
  needs="$(node "$root/scripts/elf-version-needs.mjs" "$prebuild")"
  echo "$needs" | tail -1
  if grep -q 'libstdc++' <<<"$needs"; then echo "pack-install: the prebuild links libstdc++"; exit 1; fi
  if [ "$(uname -m)" = x86_64 ] && ! grep -Eq '^lowest glibc: 2\.(1[0-9]|2[0-8])$' <<<"$needs"; then
    echo "pack-install: the prebuild needs a glibc newer than 2.28"; exit 1
  fi
fi

echo "== pack-install: the public API type-checks under TypeScript 5.9 and 7, strictest settings"
npm_install "$app" --save-dev typescript@5.9.3 typescript7@npm:typescript@7.0.2 @types/node@20
(cd "$app" && node node_modules/typescript/bin/tsc -p tsconfig.json && echo "  typescript $(node node_modules/typescript/bin/tsc -v)")
(cd "$app" && node node_modules/typescript7/bin/tsc -p tsconfig.json && echo "  typescript7 $(node node_modules/typescript7/bin/tsc -v)")

if $linux; then
  echo "== pack-install: no prebuild, a compiler on PATH: the install builds the addon from source"
  mkdir "$work/repack"
  tar xzf "$uring_tgz" -C "$work/repack"
  rm -rf "$work/repack/package/prebuilds"
  tar czf "$work/aio-uring-source-only.tgz" -C "$work/repack" package
  src="$work/app-source"
  new_project "$src" '{ "@proactor/aio-uring": true }'
  # Every other tarball as it was packed (a package missing here would be asked of the registry).
  others=()
  for t in "$work"/tarballs/*.tgz; do
    [ "$t" = "$uring_tgz" ] || others+=("$t")
  done
  npm_install "$src" "$work/aio-uring-source-only.tgz" "${others[@]}"
  built="$src/node_modules/@proactor/aio-uring/build/Release/proactor_uring.node"
  [ -f "$built" ] || { echo "pack-install: the install script built no addon"; exit 1; }
  [ ! -e "$src/node_modules/@proactor/aio-uring/prebuilds" ] || { echo "pack-install: prebuilds/ present"; exit 1; }
  [ ! -e "$src/node_modules/@proactor/aio-uring/build/Release/deny_io_uring" ] || { echo "pack-install: the test fixture was built"; exit 1; }
  (cd "$src" && PROACTOR_EXPECT_BACKEND=io_uring node smoke.mjs)
fi
echo "pack-install: ok"
