/**
 * The inputs of one timed case, drawn as bench/cpu/experts.ts draws its own: rt = rng(1000 + T),
 * hidden [T, H] uniform in [-1, 1), then per layer and token K distinct experts drawn uniformly with a
 * raw weight 0.1 + rt() each (layer 0 sees exactly experts.ts's routing).
 * com.microsoft.MoE routes by itself (softmax over router_probs, top-k), so the choice is handed to it as
 * router logits: log(raw weight) for the chosen experts, LOGIT_FLOOR for the others, whose softmax
 * probability is then exactly 0. The op's routing weights are the chosen ones' softmax renormalised.
 */
import { randomFloats, rng } from "../../../src/bench/random.js";
import type { MoeDims } from "./moe-model.js";

/** Far below any chosen logit and still finite in float16 (max 65504). */
export const LOGIT_FLOOR = -60000;

export interface LayerRouting {
  /** router logits [T, E] fed as router_probs */
  logits: Float32Array;
  /** chosen experts [T, K] */
  ids: Int32Array;
}

export interface CaseInputs {
  hidden: Float32Array;
  layers: LayerRouting[];
}

export function caseInputs(d: MoeDims, tokens: number, layers: number): CaseInputs {
  const { hidden: h, experts: e, topK: k } = d;
  const rt = rng(1000 + tokens);
  const hidden = randomFloats(rt, tokens * h, 1);
  const routed: LayerRouting[] = [];
  for (let l = 0; l < layers; l++) {
    const logits = new Float32Array(tokens * e).fill(LOGIT_FLOOR);
    const ids = new Int32Array(tokens * k);
    for (let t = 0; t < tokens; t++) {
      const pool = [...Array(e).keys()];
      for (let j = 0; j < k; j++) {
        const x = pool.splice(Math.floor(rt() * pool.length), 1)[0]!;
        ids[t * k + j] = x;
        logits[t * e + x] = Math.log(0.1 + rt());
      }
    }
    routed.push({ logits, ids });
  }
  return { hidden, layers: routed };
}

/**
 * The routing weights [T, K] the op applies with normalize_routing_weights = 1, for `ids` in the order
 * given: softmax of `logits` (as the op sees them, i.e. already rounded to its dtype), the K chosen
 * probabilities renormalised to sum 1. Computed in float64.
 */
export function appliedWeights(logits: Float32Array, ids: Int32Array, experts: number, topK: number): Float32Array {
  const tokens = ids.length / topK;
  const out = new Float32Array(ids.length);
  for (let t = 0; t < tokens; t++) {
    const row = logits.subarray(t * experts, (t + 1) * experts);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let chosen = 0;
    for (let j = 0; j < topK; j++) chosen += Math.exp(row[ids[t * topK + j]!]! - max);
    for (let j = 0; j < topK; j++) out[t * topK + j] = Math.exp(row[ids[t * topK + j]!]! - max) / chosen;
  }
  return out;
}
