import type { Backend } from "../backends/backend.js";
import type { Tensor } from "../tensor.js";
import { inputProjection, type ExpertsWeights } from "./types.js";
import { validateExpertsInput } from "./validate.js";

/**
 * eager: loop over the experts that received tokens, in ascending id order. Each expert's rows are
 * gathered, projected with that expert's weights in place, and added into the output weighted by
 * their routing weights, so a token's contributions arrive in ascending expert order (as in
 * transformers). Needs the routing on the host once per call (it decides the loop).
 */
export async function eager(w: ExpertsWeights, hidden: Tensor, topkIndex: Tensor, topkWeights: Tensor, backend: Backend): Promise<Tensor> {
  // eager is exported: called directly, its arguments have not been through Experts' checks
  validateExpertsInput(w, hidden, topkIndex, topkWeights);
  const [t, k] = topkIndex.shape as [number, number];
  const ids = (await topkIndex.data()) as Int32Array;
  const bad = ids.findIndex((e) => e < 0 || e >= w.numExperts);
  if (bad >= 0) throw new Error(`experts: topkIndex[${Math.floor(bad / k)}, ${bad % k}] = ${ids[bad]} is outside [0, ${w.numExperts})`);
  const weights = (await topkWeights.data()) as Float32Array;
  const out = backend.zeros([t, w.hiddenSize]);
  const proj = inputProjection(w);
  // Pairs per expert ordered by slot then token, as transformers' one-hot + where() yields them.
  const rows: number[][] = Array.from({ length: w.numExperts }, () => []);
  for (let j = 0; j < k; j++) for (let tok = 0; tok < t; tok++) rows[ids[tok * k + j]!]!.push(tok * k + j);
  for (let e = 0; e < w.numExperts; e++) {
    const slots = rows[e]!;
    if (slots.length === 0) continue;
    const tokens = backend.fromHost(Int32Array.from(slots, (s) => Math.floor(s / k)), [slots.length], "int32");
    const slotWeights = backend.fromHost(Float32Array.from(slots, (s) => weights[s]!), [slots.length], "float32");
    const x = backend.gatherRows(hidden, tokens);
    const p = backend.linear(x, proj, { expert: e, bias: w.gateUpBias });
    const a = backend.gate(p, w.gate);
    const y = backend.linear(a, w.down, { expert: e, bias: w.downBias });
    backend.accumulateRows(out, y, tokens, slotWeights);
  }
  return out;
}
