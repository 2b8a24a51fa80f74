// Issue 11, item 1: the SIGSEGV through the public API (2^64-element weights wrapping the addon's size
// check) is now a clean error where the Tensor is made. Run in a child process so a crash fails the test
// instead of killing the runner.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { cpuBackendAvailable } from "../../src/index.js";

test("oversized or short weights give clean errors, never a native crash", { skip: !cpuBackendAvailable() && "the native addon is not built" }, () => {
  const child = fileURLToPath(new URL("./oversized-shapes-child.ts", import.meta.url));
  const r = spawnSync(process.execPath, ["--import", "tsx", child], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.signal, null, `the child died of ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  // The addon's own wording may change; it must refuse the detached buffer by naming the weight.
  assert.match(lines.pop()!, /^gatheredLinear, weights detached after construction: \w*Error: .*gatheredLinear.*(weight|w\.segments)/);
  assert.deepEqual(lines, [
    "gatheredLinear, 2^64-element weights: Error: Tensor: shape [4194304, 2097152, 2097152] has more than 2^53 elements",
    "groupedLinear, 2^64-element weights: Error: Tensor: shape [4194304, 2097152, 2097152] has more than 2^53 elements",
    "gatheredLinear, storage shorter than the shape: Error: Tensor: a Float32Array of 16 elements does not hold float32 [3, 64, 8] (1536 needed)",
    "bfloat16 weights, storage shorter than the shape: Error: Tensor: a Uint16Array of 8 elements does not hold bfloat16 [3, 64, 8] (1536 needed)",
    "Experts grouped_mm, 2^64-element weights: Error: Tensor: shape [4194304, 2097152, 2097152] has more than 2^53 elements",
    "Experts batched_mm, 2^64-element weights: Error: Tensor: shape [4194304, 2097152, 2097152] has more than 2^53 elements",
    "Experts eager, 2^64-element weights: Error: Tensor: shape [4194304, 2097152, 2097152] has more than 2^53 elements",
  ]);
});
