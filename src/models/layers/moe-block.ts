/**
 * The sparse MoE block shared by every family: router → experts implementation, plus shared experts
 * (ungated, or gated by σ(x·w) as in qwen2_moe) added to the routed output or averaged with it
 * (cohere2_moe). The router and routed experts may run on another backend than the block's (a placement,
 * src/backends/placement.ts): the hidden states cross to it and the routed output comes back.
 */
import type { Backend, Routing } from "../../backends/backend.js";
import { handOver } from "../../backends/placement.js";
import type { Experts } from "../../experts/experts.js";
import type { ExpertsResidencyHook } from "../../experts/residency.js";
import type { Router } from "../../experts/routers.js";
import { shapeString, type Tensor } from "../../tensor.js";
import { callExperts, type ExpertsCallOptions } from "./experts-call.js";
import type { GatedMlp } from "./mlp.js";
import { sharedInExperts, withSharedSlots, type SharedInExperts } from "./shared-in-experts.js";

export interface SharedExperts {
  mlp: GatedMlp;
  /** [1, H]: σ(x·gateᵀ) scales the shared output per token */
  gate?: Tensor;
  /** (routed + shared) / 2 instead of their sum */
  average?: boolean;
}

/** What a block may add to router → experts (+ shared): each optional. */
export interface MoeBlockExtras {
  /** Where the router and the routed experts run (default: the block's backend). */
  expertsBackend?: Backend;
  /** How the routing reaches the experts (input-scaling weights, identity experts); default the plain call. */
  call?: ExpertsCallOptions;
  /** [H], added to the block's output (jetmoe) */
  outputBias?: Tensor;
  /** Run the shared experts inside the routed experts' pass where the layouts allow (default true; shared-in-experts.ts). */
  sharedInExperts?: boolean;
}

export class SparseMoeBlock {
  readonly expertsBackend: Backend;
  readonly call: ExpertsCallOptions;
  readonly outputBias: Tensor | undefined;
  /** The routed experts extended by the shared expert's chunks, when the shared expert runs in their pass. */
  readonly sharedFused: SharedInExperts | undefined;
  /** Told which experts each batch routes to, before they run (the expert cache of `maxResidentBytes`). */
  residency: ExpertsResidencyHook | undefined;

  constructor(
    readonly router: Router,
    readonly experts: Experts,
    readonly shared: SharedExperts | undefined,
    readonly backend: Backend,
    opts: MoeBlockExtras = {},
  ) {
    this.expertsBackend = opts.expertsBackend ?? backend;
    this.call = opts.call ?? {};
    this.outputBias = opts.outputBias;
    this.sharedFused = shared && opts.sharedInExperts !== false ? sharedInExperts(experts, shared, backend, this.expertsBackend, this.call) : undefined;
  }

  /** Routing of hidden [T, H] on the experts' backend: { index int32 [T, K], weights float32 [T, K] }. */
  route(hidden: Tensor): Routing {
    return this.router.route(this.expertsBackend.adopt(hidden));
  }

  /** The routed experts of hidden [T, H] as this block calls them (call options applied): [T, H]. */
  runExperts(hidden: Tensor, index: Tensor, weights: Tensor): Promise<Tensor> {
    const eb = this.expertsBackend;
    return callExperts(eb, this.experts, eb.adopt(hidden), eb.adopt(index), eb.adopt(weights), this.call);
  }

  /** The block's forward: hidden [T, H] (or [B, S, H]) → same shape. */
  async forward(hidden: Tensor): Promise<Tensor> {
    const b = this.backend;
    const h = hidden.shape[hidden.rank - 1]!;
    if (h !== this.experts.weights.hiddenSize) {
      throw new Error(`MoE block: hidden ${shapeString(hidden.shape)} must end in ${this.experts.weights.hiddenSize}`);
    }
    const x = b.adopt(hidden).reshape([-1, h]);
    const eb = this.expertsBackend;
    const xe = eb === b ? x : await handOver(x, eb);
    const { index, weights } = this.router.route(xe);
    // With an expert cache the shared expert runs apart and first, so the cache's prefetch of the routed
    // experts overlaps it; otherwise it runs inside the routed pass where the layouts allow.
    if (this.sharedFused && !this.residency) return this.forwardSharedFused(x, index, weights, hidden.shape);
    if (this.residency) this.residency.routed((await index.data()) as Int32Array);
    let s: Tensor | undefined;
    if (this.shared && this.residency) s = this.sharedOutput(x);
    let out = await callExperts(eb, this.experts, xe, index, weights, this.call);
    if (eb !== b) out = await handOver(out, b);
    if (this.shared) {
      out = b.add(out, s ?? this.sharedOutput(x));
      if (this.shared.average) out = b.scale(out, 0.5);
    }
    if (this.outputBias) out = b.add(out, this.outputBias);
    return out.reshape(hidden.shape);
  }

  /** Routed and shared experts in one experts call: the shared chunks as always-selected slots. */
  private async forwardSharedFused(x: Tensor, index: Tensor, weights: Tensor, shape: readonly number[]): Promise<Tensor> {
    const b = this.backend;
    const f = this.sharedFused!;
    if (f.experts.implementation !== this.experts.implementation) f.experts.implementation = this.experts.implementation;
    const sw = f.gate ? b.activate(b.linear(x, f.gate), "sigmoid") : undefined;
    const routing = await withSharedSlots(b, index, weights, this.experts.numExperts, f.count, sw);
    let out = await callExperts(b, f.experts, x, routing.index, routing.weights, this.call);
    if (this.outputBias) out = b.add(out, this.outputBias);
    return out.reshape(shape);
  }

  private sharedOutput(x: Tensor): Tensor {
    const b = this.backend;
    let s = this.shared!.mlp.forward(x, b);
    if (this.shared!.gate) s = b.mul(s, b.activate(b.linear(x, this.shared!.gate), "sigmoid"));
    return s;
  }
}
