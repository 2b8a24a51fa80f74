#!/usr/bin/env bash
# Set up a software WebGPU adapter for the webgpu tests in CI: Mesa lavapipe (Vulkan on the CPU),
# version >= 25, which Dawn (the `webgpu` npm package) needs; on Debian bookworm it comes from
# bookworm-backports. Idempotent; always exits 0 — when it cannot install, it says why and the webgpu
# tests skip themselves.
#
#   scripts/setup-webgpu.sh          # install if needed, then probe an adapter through node_modules/webgpu
#
# Roughly 5-10 s on a fresh Debian bookworm image (apt-get update + ~40 MB of packages).
set -u

log() { echo "setup-webgpu: $*"; }
MIN_MESA=25

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    log "not root and no passwordless sudo; cannot install lavapipe (webgpu tests will skip)"; exit 0
  fi
fi

mesa_major() {
  local v
  v=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' mesa-vulkan-drivers 2>/dev/null | awk '$1 == "ii" { print $2 }')
  [ -n "$v" ] && echo "${v%%.*}" | sed 's/^[0-9]*://'
}

have_lavapipe() {
  local major
  major=$(mesa_major)
  [ -n "$major" ] && [ "$major" -ge "$MIN_MESA" ] 2>/dev/null && dpkg-query -W -f='${db:Status-Abbrev}' libvulkan1 2>/dev/null | grep -q '^ii'
}

if have_lavapipe; then
  log "lavapipe already installed (mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))"
elif ! command -v apt-get >/dev/null 2>&1; then
  log "no apt-get here; install Mesa lavapipe >= $MIN_MESA and libvulkan1 by other means (webgpu tests will skip)"; exit 0
else
  codename=$( . /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")
  target=()
  if [ "$codename" = "bookworm" ]; then
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      log "adding the bookworm-backports apt source"
      echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null || {
        log "cannot write the apt source (webgpu tests will skip)"; exit 0; }
    fi
    target=(-t bookworm-backports)
  fi
  log "installing mesa-vulkan-drivers and libvulkan1 ${target[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get update -q >/dev/null; then log "apt-get update failed (webgpu tests will skip)"; exit 0; fi
  if ! $SUDO apt-get install -y -q "${target[@]}" mesa-vulkan-drivers libvulkan1 >/dev/null; then
    log "apt-get install failed (webgpu tests will skip)"; exit 0
  fi
  if ! have_lavapipe; then
    log "installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null) is older than $MIN_MESA; Dawn may find no adapter"
  else
    log "installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
  fi
fi

# Probe an adapter through the webgpu package when it is installed (the GPU object must stay referenced).
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -d "$root/node_modules/webgpu" ] && command -v node >/dev/null 2>&1; then
  (cd "$root" && node --input-type=module -e '
    import { create } from "webgpu";
    const gpu = create([]);
    const a = await gpu.requestAdapter();
    if (!a) { console.log("setup-webgpu: no adapter found (webgpu tests will skip)"); process.exit(0); }
    const i = a.info;
    console.log(`setup-webgpu: adapter ${i.vendor} ${i.architecture} ${i.description}${a.features.has("shader-f16") ? " (shader-f16)" : ""}`);
    globalThis.keep = gpu;
  ' 2>/dev/null) || log "adapter probe failed (webgpu tests will skip)"
else
  log "node_modules/webgpu not installed; skipping the adapter probe"
fi
exit 0
