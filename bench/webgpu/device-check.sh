#!/usr/bin/env bash
# The WebGPU experts-layer grid on a lent GPU machine (NVIDIA H100 / H200, x86-64 Linux, no network):
# Node and Dawn (the `webgpu` package) over the NVIDIA Vulkan driver, bench/webgpu/experts.ts at full
# Qwen1.5-MoE-A2.7B dims (60 experts, H 2048, I 1408, top-4), T = 1..512, float32 and float16 weights,
# GFLOP/s and GB/s next to the GEMM and copy ceilings measured on the same adapter.
#
# Prepare here (once per change of the backend or the bench):  bash bench/webgpu/device-kit.sh
# Then one device call:  command `bash bench/webgpu/device-check.sh`, carry ["bench/out/device-kit"],
#                        timeout_s 600 (the bench stops itself after BUDGET_S; defaults fit in ~8 min).
# Dry run here (lavapipe, a small grid):
#   OUT=/tmp/dc REQUIRE_GPU=0 TS=1,4 EXPERTS=8 CEILING_N=512 BUDGET_S=120 bash bench/webgpu/device-check.sh
#
# Writes under $OUT (at most 8 files come back): device-check.log (everything), adapter.json, bench.md
# (the table), webgpu-experts.json (rewritten after every row: an interrupted run keeps its rows) and
# summary.txt (the issue's goals: grouped_mm at T = 512 vs GEMM, batched_mm decode vs copy), and first
# quant-gemv.md / quant-gemv.json: the quantized GEMV, int8 path (dot4I8Packed) vs float path, q4_0 / q8_0
# (bench/webgpu/quant-gemv.ts; QGEMV_S seconds at most, 0 skips it); placement.md: the synthetic model on
# webgpu alone, with its routed experts on the cpu backend beside it, and on cpu alone — prefill 1×128 and
# decode (bench/webgpu/placement.ts; PLACE_S seconds at most, 0 skips it; PLACE_ARGS).
# Knobs (environment): TS, DTYPES, IMPLS, EXPERTS, BUDGET_S (grid seconds, default 300), CEILING_N,
# COPY_MIB, MAX_MS, QGEMV_S (default 90), QGEMV_ARGS, PLACE_S (default 120), PLACE_ARGS, REQUIRE_GPU (default 1: fail on a software adapter), KIT.
set -uo pipefail
cd "$(dirname "$0")/../.."
KIT=${KIT:-bench/out/device-kit}
OUT=${OUT:-/tmp/moekit-device-check}
TS=${TS:-1,2,4,8,16,32,64,128,256,512}
DTYPES=${DTYPES:-float16,float32}
IMPLS=${IMPLS:-batched_mm,grouped_mm,eager}
EXPERTS=${EXPERTS:-60}
BUDGET_S=${BUDGET_S:-240}
QGEMV_S=${QGEMV_S:-90}
QGEMV_ARGS=${QGEMV_ARGS:-}
PLACE_S=${PLACE_S:-120}
PLACE_ARGS=${PLACE_ARGS:---layers 1 --new 32 --runs 3}
CEILING_N=${CEILING_N:-4096}
COPY_MIB=${COPY_MIB:-1024}
MAX_MS=${MAX_MS:-20000}
REQUIRE_GPU=${REQUIRE_GPU:-1}
W=/tmp/moekit-webgpu
mkdir -p "$OUT" "$W/node_modules"
exec > >(tee -a "$OUT/device-check.log") 2>&1
say() { echo "device-check: $*"; }
fail() {
  say "FAILED: $*"
  echo "FAILED: $*" >>"$OUT/summary.txt"
  exit 1
}
start=$(date +%s)
say "$(date -u +%FT%TZ) on $(hostname), $(uname -m), kit: $(tr '\n' ' ' <"$KIT/commit" 2>/dev/null || echo '?')"
[ -d "$KIT" ] || fail "no $KIT here: build it with bench/webgpu/device-kit.sh and name it in the call's carry"
[ -f "$KIT/node.xz" ] && [ -f "$KIT/experts.mjs" ] && [ -f "$KIT/webgpu/dist/linux-x64/dawn.node.xz" ] || fail "$KIT is incomplete: rebuild it"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader || say "no nvidia-smi"

# ---- Vulkan loader and the NVIDIA driver's ICD ------------------------------------------------
if ! ldconfig -p | grep -q 'libvulkan\.so\.1' || ! ldconfig -p | grep -q 'libGLdispatch\.so\.0'; then
  say "no Vulkan loader / glvnd installed: unpacking $KIT/debs (as the device tool's README says)"
  for f in "$KIT"/debs/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
  ldconfig
fi
ldconfig -p | grep -q 'libvulkan\.so\.1' || fail "still no libvulkan.so.1 (the kit has no loader deb?)"
icd=""
for f in /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd*.json; do
  [ -f "$f" ] && { icd=$f; break; }
done
if [ -n "$icd" ]; then
  export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
  say "Vulkan driver: $icd"
elif [ "$REQUIRE_GPU" = 1 ]; then
  fail "no NVIDIA Vulkan ICD json (looked in /usr/share, /etc, /usr/local/nvidia); set REQUIRE_GPU=0 to run on whatever adapter exists"
else
  say "no NVIDIA Vulkan ICD: using the default Vulkan drivers (REQUIRE_GPU=0)"
fi

# ---- Node and the webgpu package --------------------------------------------------------------
unxz_to() { # unxz_to SRC DST: xz, else Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' "$1" "$2"; fi
}
unxz_to "$KIT/node.xz" "$W/node" && chmod +x "$W/node" || fail "could not unpack node"
"$W/node" --version >/dev/null 2>&1 || fail "the carried node does not run here: $("$W/node" --version 2>&1 | head -2)"
rm -rf "$W/node_modules/webgpu" && mkdir -p "$W/node_modules/webgpu/dist/linux-x64"
cp "$KIT/webgpu/package.json" "$KIT/webgpu/index.js" "$W/node_modules/webgpu/"
unxz_to "$KIT/webgpu/dist/linux-x64/dawn.node.xz" "$W/node_modules/webgpu/dist/linux-x64/dawn.node" || fail "could not unpack dawn.node"
cp "$KIT/experts.mjs" "$W/experts.mjs"
say "node $("$W/node" --version)"

# ---- probe the adapter ------------------------------------------------------------------------
cat >"$W/probe.mjs" <<'JS'
import { create } from "webgpu";
import { writeFileSync } from "node:fs";
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
if (!adapter) { console.error("requestAdapter() returned no adapter"); process.exit(2); }
const info = adapter.info ?? {};
const limits = {};
for (const k of ["maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupStorageSize", "maxComputeInvocationsPerWorkgroup", "maxComputeWorkgroupsPerDimension", "maxStorageBuffersPerShaderStage"]) limits[k] = adapter.limits[k];
const out = { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, features: [...adapter.features].sort(), limits };
console.log(JSON.stringify(out, null, 1));
writeFileSync(process.argv[2], JSON.stringify(out, null, 1));
process.exit(0);
JS
timeout -k 5 90 "$W/node" "$W/probe.mjs" "$OUT/adapter.json" || fail "no WebGPU adapter (exit $?): Dawn found no usable Vulkan device; see the log above"
if [ "$REQUIRE_GPU" = 1 ] && grep -qiE 'llvmpipe|lavapipe|swiftshader' "$OUT/adapter.json"; then
  fail "the adapter is a software one (see adapter.json), not the GPU"
fi

# ---- quantized GEMV: int8 vs float path ---------------------------------------------------------
if [ "$QGEMV_S" -gt 0 ] && [ -f "$KIT/quant-gemv.mjs" ]; then
  cp "$KIT/quant-gemv.mjs" "$W/quant-gemv.mjs"
  say "quantized GEMV (int8 vs float), at most ${QGEMV_S}s: ${QGEMV_ARGS:-defaults}"
  # shellcheck disable=SC2086
  timeout -k 10 "$QGEMV_S" "$W/node" --max-old-space-size=8192 "$W/quant-gemv.mjs" $QGEMV_ARGS --json "$OUT/quant-gemv.json" | tee "$OUT/quant-gemv.md"
  say "quant-gemv exited with ${PIPESTATUS[0]} (124: cut at QGEMV_S; the JSON holds the formats finished)"
else
  say "quant-gemv skipped (QGEMV_S=$QGEMV_S, or no $KIT/quant-gemv.mjs: rebuild the kit)"
fi

# ---- experts on the cpu beside the GPU ---------------------------------------------------------
if [ "$PLACE_S" -gt 0 ] && [ -f "$KIT/placement.mjs" ]; then
  cp "$KIT/placement.mjs" "$W/placement.mjs"
  places=webgpu,webgpu+cpu,cpu
  [ -f "$KIT/moekit_native.node" ] || places=webgpu
  say "placement (webgpu alone / experts on cpu / cpu alone), at most ${PLACE_S}s: $PLACE_ARGS --placements $places"
  # shellcheck disable=SC2086
  MOEKIT_NATIVE="$PWD/$KIT/moekit_native.node" timeout -k 10 "$PLACE_S" "$W/node" --max-old-space-size=16384 "$W/placement.mjs" \
    $PLACE_ARGS --placements "$places" | tee "$OUT/placement.md"
  say "placement exited with ${PIPESTATUS[0]} (124: cut at PLACE_S)"
else
  say "placement skipped (PLACE_S=$PLACE_S, or no $KIT/placement.mjs: rebuild the kit)"
fi

# ---- the grid -----------------------------------------------------------------------------------
used=$(($(date +%s) - start))
say "setup took ${used}s; bench budget ${BUDGET_S}s: T=$TS dtypes=$DTYPES impls=$IMPLS experts=$EXPERTS"
timeout -k 15 $((BUDGET_S + 120)) "$W/node" --max-old-space-size=8192 "$W/experts.mjs" \
  --t "$TS" --dtypes "$DTYPES" --impls "$IMPLS" --experts "$EXPERTS" --deadline-s "$BUDGET_S" --max-ms "$MAX_MS" \
  --ceiling-n "$CEILING_N" --copy-mib "$COPY_MIB" --json "$OUT/webgpu-experts.json" | tee "$OUT/bench.md"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || say "the bench exited with $rc (124: killed at the time limit); the JSON holds the rows measured so far"

# ---- summary: the issue's goals ---------------------------------------------------------------
"$W/node" -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const out = [`adapter: ${r.adapter}`, `ceilings: GEMM ${Object.entries(r.gemm).map(([d, v]) => `${d} ${v.toFixed(0)} GFLOP/s`).join(", ")}; copy ${r.copyBw.toFixed(0)} GB/s`];
for (const d of Object.keys(r.gemm)) {
  const g = r.rows.find((x) => x.dtype === d && x.impl === "grouped_mm" && x.t === 512);
  const b = r.rows.find((x) => x.dtype === d && x.impl === "batched_mm" && x.t === 1);
  out.push(`${d}: grouped_mm T=512 ${g ? `${g.gflops.toFixed(0)} GFLOP/s = ${((100 * g.gflops) / r.gemm[d]).toFixed(0)}% of GEMM (goal 50%)` : "not measured"}; ` +
    `batched_mm T=1 ${b ? `${b.gbps.toFixed(0)} GB/s = ${((100 * b.gbps) / r.copyBw).toFixed(0)}% of copy (goal 60%)` : "not measured"}`);
}
out.push(`${r.rows.length} rows`);
console.log(out.join("\n"));
require("fs").appendFileSync(process.argv[2], out.join("\n") + "\n");
' "$OUT/webgpu-experts.json" "$OUT/summary.txt" || fail "no results to summarise"
say "done in $(($(date +%s) - start))s; files in $OUT"
exit "$rc"
