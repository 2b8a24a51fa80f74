import type { Config } from "../../loading/checkpoint.js";
import { boolField, intField, numField } from "../config/fields.js";
import type { FamilyDefinition } from "../config/family.js";
import { granitemoe } from "./granitemoe.js";
import { granitemoeshared } from "./granitemoeshared.js";
import { gqa } from "./model-parts.js";
import { mamba2, type Mamba2Dims } from "../layers/mixers/mamba2.js";
import { useMixer } from "../layers/mixers/mixer.js";
import { bool, choice, configSchema, extra, intFrom, layerKinds, optional, posInt } from "../config/schema.js";
import type { Report } from "../config/schema.js";

/** transformers' legacy layer names ("mamba", "attention") read as the current ones. */
const LEGACY_LAYER_TYPES: Record<string, string> = { mamba: "linear_attention", attention: "full_attention" };

/** mamba_d_head "auto" (or absent) = mamba_expand · hidden_size / mamba_n_heads. */
function mambaDims(cfg: Config): Mamba2Dims {
  const heads = intField(cfg, ["mamba_n_heads"], 128);
  const innerSize = intField(cfg, ["mamba_expand"], 2) * intField(cfg, ["hidden_size"]);
  const dHead = cfg.mamba_d_head;
  const limit = stepLimit(cfg.time_step_limit);
  if (typeof limit === "string") throw new Error(`config.json (granitemoehybrid): 'time_step_limit' ${limit}`);
  return {
    heads,
    headDim: typeof dHead === "number" ? dHead : innerSize / heads,
    groups: intField(cfg, ["mamba_n_groups"], 1),
    stateSize: intField(cfg, ["mamba_d_state"], 256),
    convTaps: intField(cfg, ["mamba_d_conv"], 4),
    convBias: boolField(cfg, ["mamba_conv_bias"], true),
    projBias: boolField(cfg, ["mamba_proj_bias"], false),
    dtMin: limit[0]!,
    dtMax: limit[1]!,
    normEps: numField(cfg, ["rms_norm_eps"], 1e-6),
  };
}

/** A bound of time_step_limit: a number, or infinity as JSON cannot write it ("inf", "Infinity", {"__float__": "Infinity"}). */
function bound(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  const s = v !== null && typeof v === "object" ? (v as Record<string, unknown>).__float__ : v;
  if (typeof s !== "string") return undefined;
  const m = /^([+-]?)(inf|infinity)$/i.exec(s.trim());
  return m ? (m[1] === "-" ? -Infinity : Infinity) : undefined;
}

/** time_step_limit as [min, max] (default [0, ∞]), or what is wrong with it. */
function stepLimit(v: unknown): [number, number] | string {
  if (v === undefined || v === null) return [0, Infinity];
  const pair = Array.isArray(v) && v.length === 2 ? v.map(bound) : undefined;
  if (!pair || pair[0] === undefined || pair[1] === undefined) return `must be [min, max] (numbers, or "inf"), got ${JSON.stringify(v)}`;
  if (!(pair[0] <= pair[1])) return `must be [min, max] with min ≤ max, got ${JSON.stringify(v)}`;
  return [pair[0], pair[1]];
}

/** The Mamba sizes divide: heads × head dim = expand × hidden, groups divide heads. */
function checkMamba(cfg: Config, report: Report): void {
  const heads = (cfg.mamba_n_heads as number | undefined) ?? 128;
  const innerSize = ((cfg.mamba_expand as number | undefined) ?? 2) * (cfg.hidden_size as number);
  const dHead = cfg.mamba_d_head;
  if (typeof dHead === "number") {
    if (dHead * heads !== innerSize) report("mamba_d_head", `${dHead} × mamba_n_heads ${heads} must equal mamba_expand × hidden_size ${innerSize}`);
  } else if (innerSize % heads !== 0) {
    report("mamba_n_heads", `${heads} must divide mamba_expand × hidden_size ${innerSize}`);
  }
  const groups = (cfg.mamba_n_groups as number | undefined) ?? 1;
  if (heads % groups !== 0) report("mamba_n_groups", `${groups} must divide mamba_n_heads ${heads}`);
  const limit = stepLimit(cfg.time_step_limit);
  if (typeof limit === "string") report("time_step_limit", limit);
}

const mamba = useMixer(mamba2, { name: "mamba", dims: (site) => mambaDims(site.raw) });

/**
 * Granite 4 hybrid: Mamba2 layers (layer_types "linear_attention") beside attention layers without
 * positional encoding (position_embedding_type "nope"; "rope" rotates them); granitemoeshared's MoE with
 * its shared MLP and Granite multipliers.
 */
export const granitemoehybrid: FamilyDefinition = {
  modelType: "granitemoehybrid",
  config: configSchema(
    ...granitemoeshared.config.pieces,
    layerKinds(["linear_attention", "full_attention"], { optionalList: true }),
    extra(
      {
        position_embedding_type: optional(choice("nope", "rope")),
        mamba_n_heads: optional(posInt),
        mamba_n_groups: optional(posInt),
        mamba_d_state: optional(posInt),
        mamba_d_head: optional(posInt.or(choice("auto"))),
        mamba_d_conv: optional(intFrom(2)),
        mamba_expand: optional(posInt),
        mamba_chunk_size: optional(posInt),
        mamba_conv_bias: optional(bool),
        mamba_proj_bias: optional(bool),
      },
      checkMamba,
    ),
  ),
  moe: granitemoeshared.moe,
  model: {
    ...granitemoe.model,
    attention: (cfg) => gqa(cfg, { scale: numField(cfg, ["attention_multiplier"], 1), rope: cfg.position_embedding_type === "rope" }),
    mixer: (cfg, l) => (Array.isArray(cfg.layer_types) && cfg.layer_types[l] === "full_attention" ? undefined : mamba),
  },
  checkpoint: {
    config: (raw) => {
      const types = raw.layer_types ?? raw.layers_block_type;
      const out: Config = { ...raw };
      if (Array.isArray(types)) out.layer_types = types.map((t: unknown) => (typeof t === "string" ? (LEGACY_LAYER_TYPES[t] ?? t) : t));
      return out;
    },
  },
};
