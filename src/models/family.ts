/**
 * What a model family declares. Each src/models/families/<model_type>.ts exports one of these; it is
 * configuration of shared parts, not code paths of its own.
 */
import type { GateSpec } from "../backends/backend.js";
import type { RouterRule } from "../experts/routers.js";
import type { Config } from "../loading/checkpoint.js";

/** How the checkpoint stores a layer's experts. */
export type ExpertsLayout =
  /** experts.{i}.{gate}.weight [I, H], .{up}.weight [I, H], .{down}.weight [H, I] (qwen2_moe pattern; mixtral w1/w3/w2) */
  | { kind: "perExpert"; gate: string; up: string; down: string }
  /** input_linear.weight [E, 2I, H] (gate rows first), output_linear.weight [E, H, I] (granitemoe) */
  | { kind: "granite" }
  /** experts.gate_up_proj [E, H, 2I] interleaved + _bias, experts.down_proj [E, I, H] + _bias (gpt_oss) */
  | { kind: "gptOss" };

export interface MoeDefinition {
  /** Name of the block module under model.layers.{l}: "mlp" or "block_sparse_moe". */
  blockName: string;
  isSparseLayer(cfg: Config, layer: number): boolean;
  numExperts(cfg: Config, layer: number): number;
  intermediateSize(cfg: Config): number;
  gate(cfg: Config): GateSpec;
  router: {
    /** keys relative to the block */
    weightKey: string;
    biasKey?: string;
    correctionBiasKey?: string;
    rule(cfg: Config, layer: number): RouterRule;
  };
  experts: ExpertsLayout;
  /** Shared experts added to every token (ungated, or scaled by σ(gateKey·x) for qwen2_moe). */
  shared?: { name: string; width(cfg: Config): number; gateKey?: string };
}

export interface FamilyDefinition {
  modelType: string;
  moe: MoeDefinition;
}
