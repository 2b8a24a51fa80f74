#!/usr/bin/env bash
# Installs the llama.cpp peer (node-llama-cpp, pinned in package.json) into this folder's node_modules;
# moekit itself does not depend on it. The prebuilt CPU binaries ship as npm packages
# (@node-llama-cpp/linux-x64 and friends); NODE_LLAMA_CPP_SKIP_DOWNLOAD keeps node-llama-cpp from
# downloading or building llama.cpp from source when no prebuilt binary fits.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --prefix "$here" --no-audit --no-fund "$@"
cd "$here/../../.." && node --import tsx bench/peers/llama-cpp/run.ts --check
