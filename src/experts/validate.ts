import { shapeString, Tensor } from "../tensor.js";
import { inputProjection, type ExpertsWeights } from "./types.js";

function expectDims(t: Tensor | undefined, shape: number[], what: string): void {
  if (!t) return;
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`experts weights: ${what} must have shape ${shapeString(shape)}, got ${shapeString(t.shape)}`);
  }
  if (t.dtype === "int32") throw new Error(`experts weights: ${what} must be a float tensor, got int32`);
}

export function validateExpertsWeights(w: ExpertsWeights): void {
  const { numExperts: e, hiddenSize: h, intermediateSize: i } = w;
  for (const [name, v] of Object.entries({ numExperts: e, hiddenSize: h, intermediateSize: i })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`experts weights: ${name} must be a positive integer, got ${v}`);
  }
  const gated = w.gate.kind !== "none";
  if (gated && !w.gateUp) throw new Error("experts weights: a gated activation needs gateUp [E, 2I, H]");
  if (!gated && !w.up) throw new Error("experts weights: non-gated experts need up [E, I, H]");
  const width = gated ? 2 * i : i;
  expectDims(inputProjection(w), [e, width, h], gated ? "gateUp" : "up");
  expectDims(w.down, [e, h, i], "down");
  expectDims(w.gateUpBias, [e, width], "gateUpBias");
  expectDims(w.downBias, [e, h], "downBias");
}

/** Checks shapes, dtypes, index range and weights finiteness; host tensors are checked value by value. */
export function validateExpertsInput(w: ExpertsWeights, hidden: Tensor, topkIndex: Tensor, topkWeights: Tensor): void {
  for (const [name, t] of [["hidden", hidden], ["topkIndex", topkIndex], ["topkWeights", topkWeights]] as const) {
    if (!(t instanceof Tensor)) throw new Error(`experts: ${name} must be a Tensor, got ${t === null ? "null" : typeof t}`);
  }
  if (hidden.rank !== 2 || hidden.shape[1] !== w.hiddenSize) {
    throw new Error(`experts: hidden must be [T, ${w.hiddenSize}], got ${shapeString(hidden.shape)}`);
  }
  if (hidden.dtype === "int32") throw new Error("experts: hidden must be a float tensor, got int32");
  const t = hidden.shape[0]!;
  if (topkIndex.rank !== 2 || topkIndex.shape[0] !== t || topkIndex.shape[1]! < 1) {
    throw new Error(`experts: topkIndex must be [${t}, K] with K ≥ 1, got ${shapeString(topkIndex.shape)}`);
  }
  if (topkIndex.dtype !== "int32") throw new Error(`experts: topkIndex must be int32, got ${topkIndex.dtype}`);
  if (topkWeights.rank !== 2 || topkWeights.shape[0] !== t || topkWeights.shape[1] !== topkIndex.shape[1]) {
    throw new Error(`experts: topkWeights must match topkIndex ${shapeString(topkIndex.shape)}, got ${shapeString(topkWeights.shape)}`);
  }
  if (topkWeights.dtype !== "float32") throw new Error(`experts: topkWeights must be float32, got ${topkWeights.dtype}`);
  if (topkIndex.isHost) {
    const ids = topkIndex.hostStorage() as Int32Array;
    for (let s = 0; s < ids.length; s++) {
      const e = ids[s]!;
      if (e < 0 || e >= w.numExperts) {
        throw new Error(`experts: topkIndex[${Math.floor(s / topkIndex.shape[1]!)}, ${s % topkIndex.shape[1]!}] = ${e} is outside [0, ${w.numExperts})`);
      }
    }
  }
  if (topkWeights.isHost) {
    const ws = topkWeights.hostStorage() as Float32Array;
    for (let s = 0; s < ws.length; s++) {
      if (!Number.isFinite(ws[s]!)) {
        throw new Error(`experts: topkWeights[${Math.floor(s / topkWeights.shape[1]!)}, ${s % topkWeights.shape[1]!}] is ${ws[s]}, not a finite number`);
      }
    }
  }
}
