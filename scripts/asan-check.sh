#!/usr/bin/env bash
# The cpu tests and a sample of the fuzz corpus against the AddressSanitizer build of the addon (scripts/build-asan.sh):
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
# What reaches the addon with hostile or unusual sizes: the cpu op and kernel tests (every ISA, one
# serial and one pooled thread count), the hostile-input tests, and a sample of the fuzz corpus's model
# cases: every case that loads and runs (the 21 families and the mutated checkpoints that still load run
# their forward on the cpu backend) and every 4th refusal. Whole-model tests on the cpu backend add
# nothing the corpus's loads do not cover, and the file cases never reach the addon.
MOEKIT_TEST_THREADS=1,3 node scripts/run-tests.mjs cpu/ hostile/ run-time-inputs key-plan || status=$?
node --import tsx test/fuzz/run.ts --filter model: --sample 4 || status=$?
if compgen -G "$logs/asan*" > /dev/null; then
  echo "asan-check: AddressSanitizer reports:" >&2
  cat "$logs"/asan* >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "asan-check: no AddressSanitizer reports, every test passed"
exit "$status"
