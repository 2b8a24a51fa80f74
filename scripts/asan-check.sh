#!/usr/bin/env bash
# The cpu tests and the fuzz corpus against the AddressSanitizer build of the addon (scripts/build-asan.sh):
# node itself is not instrumented, so libasan is preloaded; any report fails the run (each process writes
# its reports to a log file, so a report in a child process that the tests tolerated is still caught).
set -euo pipefail
cd "$(dirname "$0")/.."
addon=$(pwd)/build-asan/Release/moekit_native.node
[ -f "$addon" ] || bash scripts/build-asan.sh
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
export LD_PRELOAD
LD_PRELOAD=$(gcc -print-file-name=libasan.so)
export ASAN_OPTIONS="handle_segv=1:allow_user_segv_handler=0:detect_leaks=0:log_path=$logs/asan"
export MOEKIT_NATIVE=$addon

# The cpu backend must load this addon (the loader falls back to build/ when MOEKIT_NATIVE is missing).
node --import tsx -e '
  const { createCpuBackend } = await import("./src/backends/cpu/index.ts");
  createCpuBackend();
  const maps = (await import("node:fs")).readFileSync("/proc/self/maps", "utf8");
  if (!maps.includes(process.env.MOEKIT_NATIVE) || !maps.includes("libasan")) { console.error("asan-check: the AddressSanitizer addon is not the one loaded"); process.exit(1); }
  console.log("asan-check: cpu backend runs on", process.env.MOEKIT_NATIVE);
'

status=0
node scripts/run-tests.mjs cpu/ cpu-backend generate-command bf16-checkpoints hostile/ || status=$?
# The corpus's model cases (the file cases never reach the addon).
node --import tsx test/fuzz/run.ts --filter model: || status=$?
if compgen -G "$logs/asan*" > /dev/null; then
  echo "asan-check: AddressSanitizer reports:" >&2
  cat "$logs"/asan* >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "asan-check: no AddressSanitizer reports, every test passed"
exit "$status"
