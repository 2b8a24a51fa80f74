/** Argument checks of a whole experts layer in one call (the cpu backend's fusedExperts). */
import type { Tensor } from "../../tensor.js";
import type { GateSpec } from "../backend.js";
import { expectBias, gateSpecArgs, type GateSpecArgs } from "./products.js";
import { expectFloat, expectIndices, expectRank, expectShape, hostInts } from "./tensors.js";

/** An experts layer in the transformers fused layout. */
export interface FusedExpertsArgs {
  /** [T, H] */
  hidden: Tensor;
  /** int32 [T, K] */
  topkIndex: Tensor;
  /** float32 [T, K] */
  topkWeights: Tensor;
  /** [E, W, H]: the gate|up stack (W = 2I) or, for gate kind "none", up alone (W = I). */
  projection: Tensor;
  /** [E, H, I] */
  down: Tensor;
  /** [E, W] */
  projectionBias?: Tensor;
  /** [E, H] */
  downBias?: Tensor;
  gate: GateSpec;
}

export interface FusedExpertsDims {
  /** tokens, hidden size, experts per token, experts, projection width (2I or I), intermediate size */
  t: number;
  h: number;
  k: number;
  e: number;
  width: number;
  inter: number;
  gate: GateSpecArgs;
  /** host values of topkIndex (undefined on a device) */
  ids?: Int32Array;
}

export function fusedExpertsArgs(a: FusedExpertsArgs): FusedExpertsDims {
  const op = "fusedExperts";
  const { hidden, topkIndex, topkWeights, projection, down } = a;
  expectRank(hidden, 2, op, "hidden");
  expectRank(topkIndex, 2, op, "topkIndex");
  expectRank(projection, 3, op, "projection");
  expectRank(down, 3, op, "down");
  const [t, h] = hidden.shape as [number, number];
  const k = topkIndex.shape[1]!;
  expectShape(topkIndex, [t, k], op, "topkIndex");
  expectShape(topkWeights, [t, k], op, "topkWeights");
  const gate = gateSpecArgs(op, a.gate);
  const [e, width] = projection.shape as [number, number, number];
  const inter = down.shape[2]!;
  expectShape(projection, [e, gate.kind === "none" ? inter : 2 * inter, h], op, "projection");
  expectShape(down, [e, h, inter], op, "down");
  for (const [tensor, what] of [[hidden, "hidden"], [topkWeights, "topkWeights"], [projection, "projection"], [down, "down"]] as const) expectFloat(tensor, op, what);
  expectBias(op, a.projectionBias, [e, width]);
  expectBias(op, a.downBias, [e, h]);
  const ids = hostInts(topkIndex, op, "topkIndex");
  expectIndices(ids, e, (v, s) => `${op}: expert id ${v} at slot ${s} outside [0, ${e})`);
  return { t, h, k, e, width, inter, gate, ids };
}
