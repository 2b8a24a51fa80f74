/**
 * How a block hands its routing to the experts when a family departs from "weight × expert(x)": the
 * routing weight scaling the expert's input (llama4), and zero-computation experts that return their
 * input (longcat_flash). Both are rewritten into a plain experts call (any implementation, any
 * backend) plus generic backend ops, so no experts implementation or backend knows about them.
 */
import type { Backend } from "../../backends/backend.js";
import type { Experts } from "../../experts/experts.js";
import type { Tensor } from "../../tensor.js";

export interface ExpertsCallOptions {
  /** Each slot computes expert(weight · x) and slots are summed unweighted (llama4). */
  weightScalesInput?: boolean;
  /** Ids numExperts .. numExperts + n − 1 name identity experts: their slot adds weight · x (longcat_flash). */
  identityExperts?: number;
}

const ones = (b: Backend, shape: number[]) => b.fromHost(new Float32Array(shape[0]! * shape[1]!).fill(1), shape, "float32");

/** experts(x, index, weights) under `opts`; x [T, H], index int32 [T, K], weights float32 [T, K] → [T, H]. */
export async function callExperts(b: Backend, experts: Experts, x: Tensor, index: Tensor, weights: Tensor, opts: ExpertsCallOptions = {}): Promise<Tensor> {
  let identity: Tensor | undefined;
  if (opts.identityExperts) ({ index, weights, identity } = await splitIdentity(b, experts.numExperts, opts.identityExperts, index, weights));
  let out: Tensor;
  if (opts.weightScalesInput) {
    const [t, k] = index.shape as [number, number];
    // slot s = t·K + k gets its own row x[t] · w[t, k]; one slot per row, then the K rows of a token summed
    const scaled = b.mul(b.repeat(x, 0, k), weights.reshape([t * k, 1]));
    const y = await experts.forward(scaled, index.reshape([t * k, 1]), ones(b, [t * k, 1]));
    out = b.combineSlots(y, ones(b, [t, k]));
  } else {
    out = await experts.forward(x, index, weights);
  }
  return identity ? b.add(out, b.mul(x, identity)) : out;
}

/**
 * Identity slots moved out of the experts call: their ids become expert 0 with weight 0, and their
 * weights are summed per token into identity [T, 1]. Reads the routing on the host.
 */
async function splitIdentity(b: Backend, numExperts: number, count: number, index: Tensor, weights: Tensor): Promise<{ index: Tensor; weights: Tensor; identity: Tensor }> {
  const [t, k] = index.shape as [number, number];
  const ids = Int32Array.from((await index.data()) as Int32Array);
  const w = Float32Array.from((await weights.data()) as Float32Array);
  const identity = new Float32Array(t);
  for (let s = 0; s < ids.length; s++) {
    const e = ids[s]!;
    if (e < numExperts) continue;
    if (e >= numExperts + count) throw new Error(`experts: routed id ${e} is outside the ${numExperts} experts and ${count} identity experts`);
    identity[Math.floor(s / k)]! += w[s]!;
    ids[s] = 0;
    w[s] = 0;
  }
  return { index: b.fromHost(ids, [t, k], "int32"), weights: b.fromHost(w, [t, k], "float32"), identity: b.fromHost(identity, [t, 1], "float32") };
}
