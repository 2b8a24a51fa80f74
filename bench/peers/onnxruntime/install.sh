#!/usr/bin/env bash
# Installs the onnxruntime peer (onnxruntime-node, pinned in package.json) into this folder's
# node_modules; moekit itself does not depend on it. The CPU binary ships inside the npm package:
# ONNXRUNTIME_NODE_INSTALL=skip keeps its postinstall from downloading GPU providers.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$here" --no-audit --no-fund "$@"
MOEKIT_ORT_PEER_DIR="$here" node -e '
const { createRequire } = require("node:module");
const ort = createRequire(process.env.MOEKIT_ORT_PEER_DIR + "/package.json")("onnxruntime-node");
console.log(`onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common} loads (CPU EP)`);
'
