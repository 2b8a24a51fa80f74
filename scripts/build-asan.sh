#!/usr/bin/env bash
# Builds the native addon with AddressSanitizer into build-asan/Release/moekit_native.node, apart from
# the normal build/. node-gyp always builds into ./build, so the build runs in build-asan/src, which holds
# a copy of binding.gyp and a link to native/ (node-addon-api still resolves from the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rm -rf build-asan
mkdir -p build-asan/src build-asan/Release
cp binding.gyp build-asan/src/
ln -s "$root/native" build-asan/src/native
# npm's own node-gyp (the one `npm install` builds build/ with); npm run sets npm_config_node_gyp.
gyp=${npm_config_node_gyp:-$(npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js}
# The node headers from npm's configuration (nodedir), as `npm install` uses them.
nodedir=${npm_config_nodedir:-$(npm config get nodedir)}
gypargs=()
if [ -n "$nodedir" ] && [ "$nodedir" != "undefined" ] && [ "$nodedir" != "null" ]; then gypargs+=(--nodedir="$nodedir"); fi
flags="-fsanitize=address -fno-omit-frame-pointer -g"
(
  cd build-asan/src
  CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS="-fsanitize=address" node "$gyp" rebuild -j max "${gypargs[@]}"
)
cp build-asan/src/build/Release/moekit_native.node build-asan/Release/
if ! nm -D build-asan/Release/moekit_native.node | grep __asan_init >/dev/null; then  # not grep -q: an early exit would SIGPIPE nm, which pipefail counts as failure
  echo "build-asan: the addon is not instrumented (no __asan_init)" >&2
  exit 1
fi
echo "build-asan: built $root/build-asan/Release/moekit_native.node"
