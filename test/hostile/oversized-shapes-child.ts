// Issue 11, item 1, through the public API: shapes whose element count overflows 64 bits, and storage
// shorter than the shape, handed to the cpu backend's products and to Experts. Run in a child process
// by oversized-shapes.test.ts (a native crash would kill it); prints one line per attempt.
import { createCpuBackend, Experts, Tensor } from "../../src/index.js";

const attempts: [string, () => unknown][] = [];
const huge = () => new Tensor([2 ** 22, 2 ** 21, 2 ** 21], "float32", new Float32Array(16));
const b = createCpuBackend({ threads: 2 });
const x = Tensor.from(new Float32Array(4 * 8), [4, 8]);
const ids = Tensor.from(Int32Array.from([0, 1, 2, 0]), [4]);
attempts.push(["gatheredLinear, 2^64-element weights", () => b.gatheredLinear(x, huge(), ids)]);
attempts.push(["groupedLinear, 2^64-element weights", () => b.groupedLinear(x, huge(), Tensor.from(Int32Array.from([0, 4, 4]), [3]))]);
attempts.push(["gatheredLinear, storage shorter than the shape", () => b.gatheredLinear(x, new Tensor([3, 64, 8], "float32", new Float32Array(16)), ids)]);
attempts.push(["bfloat16 weights, storage shorter than the shape", () => new Tensor([3, 64, 8], "bfloat16", new Uint16Array(8))]);
for (const implementation of ["grouped_mm", "batched_mm", "eager"]) {
  attempts.push([
    `Experts ${implementation}, 2^64-element weights`,
    () => new Experts({ numExperts: 2 ** 22, hiddenSize: 2 ** 21, intermediateSize: 2 ** 20, gateUp: huge(), down: huge(), gate: { kind: "concatenated", act: "silu" } } as never, { implementation, backend: b }),
  ]);
}
// A weight whose buffer is detached after the check: the addon must refuse it, not read freed memory.
const w = Tensor.from(new Float32Array(3 * 16 * 8), [3, 16, 8]);
structuredClone(w.storage, { transfer: [(w.storage as Float32Array).buffer] });
attempts.push(["gatheredLinear, weights detached after construction", () => b.gatheredLinear(x, w, ids)]);

for (const [what, run] of attempts) {
  try {
    run();
    console.log(`${what}: ACCEPTED`);
  } catch (e) {
    console.log(`${what}: ${(e as Error).constructor.name}: ${(e as Error).message}`);
  }
}
