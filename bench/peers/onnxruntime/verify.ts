/**
 * Checks that the peer computes what moekit's experts layer computes: the MoE model's output at a few
 * tokens against moekit's Experts on the reference backend (float64 accumulation) with the same weights,
 * gate { kind: "concatenated", act: "silu" } (gateUp [E, 2I, H], gate rows then up rows; down [E, H, I]),
 * the same experts and the routing weights the op applies (softmax of its router input, top-k
 * renormalised). For float16 the reference sees the float16-rounded weights, hidden and logits.
 * Error: max |ort − reference| / max |reference| over the output.
 */
import { referenceBackend } from "../../../src/backends/reference/index.js";
import { narrowFromF32, widenToF32 } from "../../../src/dtype.js";
import { Experts } from "../../../src/experts/experts.js";
import type { ExpertsWeights } from "../../../src/experts/types.js";
import { Tensor } from "../../../src/tensor.js";
import { appliedWeights, caseInputs } from "./case-inputs.js";
import { checkDims, outputName, QWEN15_MOE_EXPERTS, type MoeDims, type PeerDtype } from "./moe-model.js";
import type { Ort } from "./ort.js";
import { isPeerDtype, MoeSession, unsupportedDtype } from "./session.js";
import { layerSeed, seededExpertChunks } from "./weights.js";

export interface VerifyCase {
  dims: MoeDims;
  dtype: PeerDtype;
  tokens: number;
  scale: number;
  seed: number;
}

/**
 * The default checks: small dims with large weights (pre-activations of several units, so a clamp, a
 * wrong alpha/beta or a gate/up mix-up would show), in both dtypes; then the Qwen model the peer times.
 */
export const DEFAULT_VERIFY_CASES: VerifyCase[] = [
  { dims: { hidden: 64, intermediate: 48, experts: 8, topK: 4 }, dtype: "float32", tokens: 3, scale: 2, seed: 7 },
  { dims: { hidden: 64, intermediate: 48, experts: 8, topK: 4 }, dtype: "float16", tokens: 3, scale: 2, seed: 7 },
  { dims: QWEN15_MOE_EXPERTS, dtype: "float32", tokens: 3, scale: 0.02, seed: 42 },
];

const TOLERANCE: Record<PeerDtype, number> = { float32: 1e-4, float16: 5e-3 };

/** A case from JSON: { dims, dtype, tokens, scale, seed }, each field checked. */
export function parseVerifyCase(text: string): VerifyCase {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`the verify case is not JSON: ${(e as Error).message}`);
  }
  const c = o as unknown as VerifyCase;
  if (typeof c.dims !== "object" || c.dims === null) throw new Error("verify case: dims must be { hidden, intermediate, experts, topK }");
  checkDims(c.dims);
  if (!isPeerDtype(String(c.dtype))) throw new Error(`verify case: ${unsupportedDtype(String(c.dtype))}`);
  if (!Number.isInteger(c.tokens) || c.tokens < 1) throw new Error(`verify case: tokens must be a positive integer, got ${JSON.stringify(o.tokens)}`);
  if (typeof c.scale !== "number" || !(c.scale > 0)) throw new Error(`verify case: scale must be a positive number, got ${JSON.stringify(o.scale)}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) throw new Error(`verify case: seed must be a non-negative integer, got ${JSON.stringify(o.seed)}`);
  return c;
}

/** What the op sees of float32 values in its dtype, widened back. */
function asSeen(values: Float32Array, dtype: PeerDtype): Float32Array {
  return dtype === "float32" ? values : widenToF32(narrowFromF32(values, dtype), dtype);
}

function referenceWeights(c: VerifyCase): ExpertsWeights {
  const { hidden: h, intermediate: i, experts: e } = c.dims;
  const gateUp = new Float32Array(e * 2 * i * h);
  const down = new Float32Array(e * h * i);
  for (const chunk of seededExpertChunks(c.dims, layerSeed(c.seed, 0), c.scale)) {
    if (chunk.part === "gateUp") gateUp.set(chunk.values, chunk.expert * 2 * i * h);
    else down.set(chunk.values, chunk.expert * h * i);
  }
  const tensor = (v: Float32Array, shape: number[]) =>
    c.dtype === "float32" ? Tensor.from(v, shape) : Tensor.from(narrowFromF32(v, c.dtype) as Uint16Array, shape, c.dtype);
  return { numExperts: e, hiddenSize: h, intermediateSize: i, gateUp: tensor(gateUp, [e, 2 * i, h]), down: tensor(down, [e, h, i]), gate: { kind: "concatenated", act: "silu" } };
}

export async function verifyCase(ort: Ort, c: VerifyCase, threads: number): Promise<Record<string, unknown>> {
  const { hidden: h, experts: e, topK: k } = c.dims;
  const session = await MoeSession.open(ort, { dims: c.dims, dtype: c.dtype, layers: 1, seed: c.seed, scale: c.scale, placement: "initializers" }, threads);
  const inputs = caseInputs(c.dims, c.tokens, 1);
  const { logits, ids } = inputs.layers[0]!;
  const out = await session.run(session.feeds(inputs.hidden, [logits]));
  await session.release();
  const got = out[outputName(0)]!;
  const ortOut = c.dtype === "float32" ? (got.data as Float32Array) : widenToF32(got.data as Uint16Array, c.dtype);

  const experts = new Experts(referenceWeights(c), { backend: referenceBackend, implementation: "eager" });
  const weights = appliedWeights(asSeen(logits, c.dtype), ids, e, k);
  const ref = (await (
    await experts.forward(Tensor.from(asSeen(inputs.hidden, c.dtype), [c.tokens, h]), Tensor.from(ids, [c.tokens, k]), Tensor.from(weights, [c.tokens, k]))
  ).data()) as Float32Array;

  let maxErr = 0;
  let maxRef = 0;
  for (let j = 0; j < ref.length; j++) {
    maxErr = Math.max(maxErr, Math.abs(ortOut[j]! - ref[j]!));
    maxRef = Math.max(maxRef, Math.abs(ref[j]!));
  }
  const rel = maxErr / maxRef;
  return {
    verify: true, dims: c.dims, dtype: c.dtype, t: c.tokens, scale: c.scale,
    max_abs_err: maxErr, max_abs_ref: maxRef, max_rel_err: rel, tolerance: TOLERANCE[c.dtype], ok: rel <= TOLERANCE[c.dtype], version: session.version,
  };
}
