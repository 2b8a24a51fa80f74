#!/usr/bin/env bash
# Builds the kit that bench/webgpu/device-check.sh needs on a lent GPU machine (no network there), in
# bench/out/device-kit/ (ignored by git; carry it: `carry: ["bench/out/device-kit"]`):
#   node.xz                        this machine's node binary, xz-compressed (x86-64 Linux)
#   experts.mjs                    bench/webgpu/experts.ts and the moekit sources it imports, bundled by
#                                  esbuild (the `webgpu` package stays an external import)
#   quant-gemv.mjs                 bench/webgpu/quant-gemv.ts bundled the same way (int8 vs float GEMV)
#   placement.mjs                  bench/webgpu/placement.ts bundled the same way (experts on the cpu beside the GPU)
#   moekit_native.node             this build's cpu addon (build/Release; placement.mjs loads it via MOEKIT_NATIVE)
#   webgpu/                        the `webgpu` npm package for linux-x64 only: package.json, index.js,
#                                  dist/linux-x64/dawn.node.xz
#   debs/*.deb                     the Vulkan loader and glvnd (amd64): libvulkan1 libglvnd0 libglx0 libgl1
#                                  libegl1 libopengl0 libgles2, unpacked there only if it lacks one
# About 30 MB. Rebuild it after changing the backend or the bench: the bundle is a snapshot.
#
#   bash bench/webgpu/device-kit.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
KIT=bench/out/device-kit
say() { echo "device-kit: $*"; }

[ "$(uname -m)" = "x86_64" ] || { say "this machine is $(uname -m); the GPU machines are x86-64: build the kit on x86-64"; exit 1; }
[ -f node_modules/webgpu/dist/linux-x64/dawn.node ] || { say "node_modules/webgpu (linux-x64) is missing: npm ci first"; exit 1; }
command -v xz >/dev/null || { say "xz is not installed"; exit 1; }

rm -rf "$KIT"
mkdir -p "$KIT/debs" "$KIT/webgpu/dist/linux-x64"

node_bin=$(command -v node)
say "node $(node --version) from $node_bin"
xz -T0 -6 -c "$node_bin" >"$KIT/node.xz"

cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$KIT/webgpu/"
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node >"$KIT/webgpu/dist/linux-x64/dawn.node.xz"

npx --no-install esbuild bench/webgpu/experts.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --log-level=warning --outfile="$KIT/experts.mjs"
npx --no-install esbuild bench/webgpu/quant-gemv.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --log-level=warning --outfile="$KIT/quant-gemv.mjs"
npx --no-install esbuild bench/webgpu/placement.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --log-level=warning --outfile="$KIT/placement.mjs"
if [ -f build/Release/moekit_native.node ]; then
  cp build/Release/moekit_native.node "$KIT/moekit_native.node"
else
  say "WARNING: build/Release/moekit_native.node is missing (npm run build:native): the placement step will skip the cpu rows"
fi

# The Vulkan loader, as /work/.library/device/README.md describes (amd64 package lists in /tmp/amd64).
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
mkdir -p /tmp/amd64/partial
# libvulkan1 is the loader; the NVIDIA ICD (libGLX_nvidia) also needs glvnd's libGLdispatch / libGLX.
if ! (apt-get "${o[@]}" update -qq && cd "$KIT/debs" && apt-get "${o[@]}" download -qq libvulkan1 libglvnd0 libglx0 libgl1 libegl1 libopengl0 libgles2); then
  say "WARNING: could not download the Vulkan loader debs; the check works only where the GPU machine has a loader"
fi

git rev-parse --short HEAD >"$KIT/commit" 2>/dev/null || true
date -u +%FT%TZ >>"$KIT/commit"
du -sh "$KIT"
ls -la "$KIT" "$KIT/debs"
