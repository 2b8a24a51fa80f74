/**
 * The sparse MoE block shared by every family: router → experts implementation, plus shared experts
 * (ungated, or gated by σ(x·w) as in qwen2_moe) added to the routed output or averaged with it
 * (cohere2_moe).
 */
import type { Backend, Routing } from "../../backends/backend.js";
import type { Experts } from "../../experts/experts.js";
import type { Router } from "../../experts/routers.js";
import { shapeString, type Tensor } from "../../tensor.js";
import { callExperts, type ExpertsCallOptions } from "./experts-call.js";
import type { GatedMlp } from "./mlp.js";

export interface SharedExperts {
  mlp: GatedMlp;
  /** [1, H]: σ(x·gateᵀ) scales the shared output per token */
  gate?: Tensor;
  /** (routed + shared) / 2 instead of their sum */
  average?: boolean;
}

export class SparseMoeBlock {
  constructor(
    readonly router: Router,
    readonly experts: Experts,
    readonly shared: SharedExperts | undefined,
    readonly backend: Backend,
    /** How the routing reaches the experts (input-scaling weights, identity experts); default the plain call. */
    readonly call: ExpertsCallOptions = {},
    /** [H], added to the block's output (jetmoe) */
    readonly outputBias?: Tensor,
  ) {}

  /** Routing of hidden [T, H]: { index int32 [T, K], weights float32 [T, K] }. */
  route(hidden: Tensor): Routing {
    return this.router.route(this.backend.adopt(hidden));
  }

  /** The routed experts of hidden [T, H] as this block calls them (call options applied): [T, H]. */
  runExperts(hidden: Tensor, index: Tensor, weights: Tensor): Promise<Tensor> {
    const b = this.backend;
    return callExperts(b, this.experts, b.adopt(hidden), b.adopt(index), b.adopt(weights), this.call);
  }

  /** The block's forward: hidden [T, H] (or [B, S, H]) → same shape. */
  async forward(hidden: Tensor): Promise<Tensor> {
    const b = this.backend;
    const h = hidden.shape[hidden.rank - 1]!;
    if (h !== this.experts.weights.hiddenSize) {
      throw new Error(`MoE block: hidden ${shapeString(hidden.shape)} must end in ${this.experts.weights.hiddenSize}`);
    }
    const x = b.adopt(hidden).reshape([-1, h]);
    const { index, weights } = this.router.route(x);
    let out = await callExperts(b, this.experts, x, index, weights, this.call);
    if (this.shared) {
      let s = this.shared.mlp.forward(x, b);
      if (this.shared.gate) s = b.mul(s, b.activate(b.linear(x, this.shared.gate), "sigmoid"));
      out = b.add(out, s);
      if (this.shared.average) out = b.scale(out, 0.5);
    }
    if (this.outputBias) out = b.add(out, this.outputBias);
    return out.reshape(hidden.shape);
  }
}
