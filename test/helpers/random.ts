import { randomFloats, rng } from "../../src/bench/random.js";
import { narrowFromF32, type DType } from "../../src/dtype.js";
import { Tensor } from "../../src/tensor.js";
import type { ExpertsWeights } from "../../src/experts/types.js";
import type { GateSpec } from "../../src/backends/backend.js";

export { randomFloats, rng } from "../../src/bench/random.js";

export function randomTensor(r: () => number, shape: number[], scale = 1, dtype: DType = "float32"): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = randomFloats(r, n, scale);
  return dtype === "float32" ? Tensor.from(v, shape) : Tensor.from(narrowFromF32(v, dtype) as Uint16Array, shape, dtype);
}

export interface RandomExperts {
  weights: ExpertsWeights;
  hidden: Tensor;
  topkIndex: Tensor;
  topkWeights: Tensor;
}

/**
 * Random experts weights and routing. `assign` picks the expert of slot (t, k); by default distinct
 * random experts per token (as top-k yields).
 */
export function randomExperts(
  seed: number,
  dims: { t: number; h: number; i: number; e: number; k: number },
  opts: { gate?: GateSpec; bias?: boolean; dtype?: DType; assign?: (t: number, k: number) => number } = {},
): RandomExperts {
  const r = rng(seed);
  const { t, h, i, e, k } = dims;
  const gate = opts.gate ?? { kind: "concatenated", act: "silu" };
  const width = gate.kind === "none" ? i : 2 * i;
  const dtype = opts.dtype ?? "float32";
  const proj = randomTensor(r, [e, width, h], 0.3, dtype);
  const weights: ExpertsWeights = {
    numExperts: e,
    hiddenSize: h,
    intermediateSize: i,
    gate,
    down: randomTensor(r, [e, h, i], 0.3, dtype),
    ...(gate.kind === "none" ? { up: proj } : { gateUp: proj }),
    ...(opts.bias ? { gateUpBias: randomTensor(r, [e, width], 0.1), downBias: randomTensor(r, [e, h], 0.1) } : {}),
  };
  const idx = new Int32Array(t * k);
  for (let tok = 0; tok < t; tok++) {
    const used = new Set<number>();
    for (let j = 0; j < k; j++) {
      let ex = opts.assign ? opts.assign(tok, j) : Math.floor(r() * e);
      if (!opts.assign) while (used.has(ex) && used.size < e) ex = Math.floor(r() * e);
      used.add(ex);
      idx[tok * k + j] = ex;
    }
  }
  const w = new Float32Array(t * k);
  for (let s = 0; s < w.length; s++) w[s] = r();
  return { weights, hidden: randomTensor(r, [t, h]), topkIndex: Tensor.from(idx, [t, k]), topkWeights: Tensor.from(w, [t, k]) };
}
