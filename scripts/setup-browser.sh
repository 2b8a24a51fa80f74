#!/usr/bin/env bash
# Set up the browser end-to-end test (test/webgpu/browser-e2e.test.ts): Debian's chromium (its WebGPU
# runs on the bundled SwiftShader Vulkan, so no GPU is needed) and the example page's own packages
# (vite, playwright-core) in examples/browser/node_modules from its lockfile. Idempotent; always exits
# 0 — when something cannot be installed it says why and the test skips itself.
#
#   scripts/setup-browser.sh
#
# Roughly 30-60 s on a fresh Debian bookworm image (chromium is ~100 MB of packages), ~1 s when set up.
set -u

log() { echo "setup-browser: $*"; }
root=$(cd "$(dirname "$0")/.." && pwd)

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi

if [ -x /usr/bin/chromium ]; then
  log "chromium present ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
elif ! command -v apt-get >/dev/null 2>&1; then
  log "no apt-get here; install chromium at /usr/bin/chromium (or set MOEKIT_CHROMIUM) — the browser test will skip"
elif [ "$(id -u)" != "0" ] && [ -z "$SUDO" ]; then
  log "not root and no passwordless sudo; cannot install chromium (the browser test will skip)"
else
  log "installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get update -q >/dev/null; then
    log "apt-get update failed (the browser test will skip)"
  elif ! $SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null; then
    log "apt-get install chromium failed (the browser test will skip)"
  else
    log "installed $(/usr/bin/chromium --version 2>/dev/null | head -1)"
  fi
fi

ex="$root/examples/browser"
stamp="$ex/node_modules/.package-lock.json"
if [ -f "$stamp" ] && [ "$stamp" -nt "$ex/package-lock.json" ] && [ -d "$ex/node_modules/vite" ] && [ -d "$ex/node_modules/playwright-core" ]; then
  log "examples/browser packages up to date"
elif ! command -v npm >/dev/null 2>&1; then
  log "no npm; cannot install examples/browser packages (the browser test will skip)"
elif (cd "$ex" && npm ci --no-audit --no-fund >/dev/null 2>&1); then
  log "installed examples/browser packages (vite, playwright-core)"
else
  log "npm ci in examples/browser failed (the browser test will skip)"
fi
exit 0
