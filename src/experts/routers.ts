/**
 * Routers: router logits (a linear layer over the hidden states) followed by a routing rule. Each
 * builder reproduces one family's rule from transformers 5.18 in terms of the generic RoutingSpec
 * that every backend implements; routing runs in float32 as transformers does.
 */
import type { Backend, Routing, RoutingSpec } from "../backends/backend.js";
import type { Tensor } from "../tensor.js";

export type RouterRule =
  /** softmax → top-k, renormalised iff `normTopkProb` (qwen2_moe, qwen3_moe, olmoe, flex_olmo; mixtral and hunyuan always renormalise) */
  | { kind: "softmaxTopK"; k: number; normTopkProb: boolean }
  /** top-k of the logits → softmax over the k values (granitemoe, granitemoeshared, cohere2_moe; gpt_oss with its router bias) */
  | { kind: "topKSoftmax"; k: number }
  /**
   * softmax → top-k → weights / ‖weights‖_p (dbrx's moe_normalize_expert_weights; null: not normalised).
   * Only p = 1 (the sum, dbrx's default) is expressible in the generic RoutingSpec.
   */
  | { kind: "softmaxTopKPNorm"; k: number; p: number | null }
  /**
   * σ(logits) → top-k of σ (+ the selection-only correction bias when the block has one) → weights σ,
   * divided by (Σ + eps) iff normTopkProb, × scale (afmoe, minimax_m2; cohere2_moe's sigmoid selection)
   */
  | { kind: "sigmoidTopK"; k: number; normTopkProb: boolean; eps: number; scale: number }
  /** sigmoid + correction bias for selection, group-limited top-k (top-2 sum), renorm, scale (deepseek_v3, glm4_moe, dots1) */
  | { kind: "noauxTc"; k: number; groups: number; topkGroup: number; normTopkProb: boolean; scale: number }
  /** softmax → top-k (greedy) or group-limited top-k (group max, mask 0), × scale; never renormalised (deepseek_v2) */
  | { kind: "softmaxGroupLimitedTopK"; k: number; method: "greedy" | "group_limited_greedy"; groups: number; topkGroup: number; scale: number }
  /** softmax, top-k of (p + correction bias), weights p × scale, not renormalised (longcat_flash) */
  | { kind: "softmaxBiasedTopK"; k: number; scale: number }
  /** softmax, top-k of (p + bias), weights p / max(Σ, normMin) (ernie4_5_moe) */
  | { kind: "softmaxBiasedTopKClampedNorm"; k: number; normMin: number }
  /** two rounds of softmax masked to the logits within a gap of the best (phimoe's sparsemixer at inference), top-2 */
  | { kind: "gapMaskedTopTwo"; k: number; jitterEps: number };

export interface RouterWeights {
  /** [E, H] */
  weight: Tensor;
  /** [E], added to the logits (gpt_oss) */
  bias?: Tensor;
  /** [E], selection-only bias (noaux_tc e_score_correction_bias, ernie moe_statics) */
  correctionBias?: Tensor;
}

export function routingSpec(rule: RouterRule, correctionBias?: Tensor): RoutingSpec {
  switch (rule.kind) {
    case "softmaxTopK":
      return { k: rule.k, scoring: "softmax", weights: "scores", normalize: rule.normTopkProb ? { eps: 0, min: 0 } : undefined };
    case "topKSoftmax":
      return { k: rule.k, scoring: "none", weights: "softmaxTopK" };
    case "softmaxTopKPNorm":
      if (rule.p !== null && rule.p !== 1) {
        throw new Error(`routing weights normalised by their ${rule.p}-norm are not supported (only the 1-norm or none: moe_normalize_expert_weights 1 or null)`);
      }
      return { k: rule.k, scoring: "softmax", weights: "scores", normalize: rule.p === 1 ? { eps: 0, min: 0 } : undefined };
    case "sigmoidTopK":
      return {
        k: rule.k,
        scoring: "sigmoid",
        selectionBias: correctionBias,
        weights: "scores",
        normalize: rule.normTopkProb ? { eps: rule.eps, min: 0 } : undefined,
        scale: rule.scale === 1 ? undefined : rule.scale,
      };
    case "noauxTc":
      if (!correctionBias) throw new Error("noaux_tc routing needs e_score_correction_bias");
      return {
        k: rule.k,
        scoring: "sigmoid",
        selectionBias: correctionBias,
        groups: { count: rule.groups, keep: rule.topkGroup, score: "top2sum", fill: -Infinity },
        weights: "scores",
        normalize: rule.normTopkProb ? { eps: 1e-20, min: 0 } : undefined,
        scale: rule.scale,
      };
    case "softmaxGroupLimitedTopK":
      return {
        k: rule.k,
        scoring: "softmax",
        groups: rule.method === "group_limited_greedy" ? { count: rule.groups, keep: rule.topkGroup, score: "max", fill: 0 } : undefined,
        weights: "scores",
        scale: rule.scale,
      };
    case "softmaxBiasedTopKClampedNorm":
      if (!correctionBias) throw new Error("ernie4_5_moe routing needs moe_statics.e_score_correction_bias");
      return { k: rule.k, scoring: "softmax", selectionBias: correctionBias, weights: "scores", normalize: { eps: 0, min: rule.normMin } };
    case "softmaxBiasedTopK":
      return { k: rule.k, scoring: "softmax", selectionBias: correctionBias, weights: "scores", scale: rule.scale === 1 ? undefined : rule.scale };
    case "gapMaskedTopTwo":
      return { k: rule.k, scoring: "gapMaskedSoftmax", weights: "scores", jitterEps: rule.jitterEps };
  }
}

/** A router: hidden [T, H] → { index int32 [T, K], weights float32 [T, K] }. */
export class Router {
  private readonly spec: RoutingSpec;

  constructor(
    readonly rule: RouterRule,
    readonly weights: RouterWeights,
    private readonly backend: Backend,
  ) {
    this.spec = routingSpec(rule, weights.correctionBias);
  }

  get topK(): number {
    return this.rule.k;
  }

  logits(hidden: Tensor): Tensor {
    return this.backend.linear(hidden, this.weights.weight, { bias: this.weights.bias });
  }

  route(hidden: Tensor): Routing {
    return this.backend.route(this.logits(hidden), this.spec);
  }
}
