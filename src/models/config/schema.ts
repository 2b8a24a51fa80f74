/**
 * config.json validation, one schema per family composed from shared pieces (one per feature: the
 * decoder, RoPE, routed experts, grouped routing, MLA, sliding windows, ...), applied at load before any
 * field is read. Types are checked, never coerced (a string "2" is refused, not read as 2); ranges and
 * the relations between fields (top-k ≤ experts, heads dividing sizes, n_group dividing the experts)
 * too. Every error names the field and the family.
 *
 * zod, not hand-written checks: the project prefers a well-kept library, zod has no dependencies and
 * runs in browsers (no code generation, unlike ajv, which CSP-restricted pages refuse), and its object
 * shapes compose per feature the way the families do. Unknown fields pass (configs carry many the
 * model does not read).
 */
import { z } from "zod";
import { ACTIVATIONS } from "../../backends/activation.js";
import type { Config } from "../../loading/checkpoint.js";
import { NUM_EXPERTS, TOP_K } from "./fields.js";
import { SUPPORTED_ROPE_TYPES } from "./rope-parameters.js";

/** Reports a problem with a field (path "a.b" for nested ones) from a cross-field check. */
export type Report = (field: string, message: string) => void;

/** A feature's fields and the checks relating them (run when every field has the right type). */
export interface SchemaPiece {
  fields: z.ZodRawShape;
  check?(cfg: Config, report: Report): void;
}

export interface ConfigSchema {
  readonly pieces: readonly SchemaPiece[];
  readonly zod: z.ZodType;
}

/** One family's schema: later pieces override fields of earlier ones. */
export function configSchema(...pieces: SchemaPiece[]): ConfigSchema {
  const fields = Object.assign({}, ...pieces.map((p) => p.fields)) as z.ZodRawShape;
  const zod = z.looseObject(fields).superRefine((cfg, ctx) => {
    const report: Report = (field, message) => ctx.addIssue({ code: "custom", path: field.split("."), message, input: undefined });
    for (const p of pieces) p.check?.(cfg, report);
  });
  return { pieces, zod };
}

/** Extra fields (and checks) of one family. */
export const extra = (fields: z.ZodRawShape, check?: SchemaPiece["check"]): SchemaPiece => ({ fields, check });

export const posInt = z.int().min(1);
export const nonNegInt = z.int().min(0);
export const positive = z.number().gt(0);
export const bool = z.boolean();
export const nonNegative = z.number().min(0);
export const optional = <T extends z.ZodType>(t: T) => t.nullish();
/** One of these strings. */
export const choice = (...values: [string, ...string[]]) => z.enum(values);
export const listOf = <T extends z.ZodType>(entry: T) => z.array(entry);
/** An integer ≥ min. */
export const intFrom = (min: number) => z.int().min(min);
/** An integer in [min, max]. */
export const intIn = (min: number, max: number) => z.int().min(min).max(max);
/** Any finite number. */
export const finite = z.number();
/** One positive integer for every layer, or a list of one per layer. */
export const posIntOrPerLayer = z.union([posInt, z.array(posInt)]);

/** The first of `names` the config gives (aliases). */
export function first(cfg: Config, names: readonly string[]): [string, unknown] | undefined {
  for (const n of names) if (cfg[n] !== undefined && cfg[n] !== null) return [n, cfg[n]];
  return undefined;
}

const LAYER_TYPES = ["full_attention", "sliding_attention"] as const;
const perLayerList = <T extends z.ZodType>(entry: T) => z.array(entry);

function checkListLength(cfg: Config, report: Report, field: string): void {
  const list = cfg[field];
  if (Array.isArray(list) && list.length !== cfg.num_hidden_layers) report(field, `must list one entry per layer (num_hidden_layers ${String(cfg.num_hidden_layers)}), got ${list.length}`);
}

/** Every family: sizes, attention heads, norm eps, activation, embeddings. */
export const DECODER: SchemaPiece = {
  fields: {
    vocab_size: posInt,
    hidden_size: posInt,
    num_hidden_layers: posInt,
    num_attention_heads: posInt,
    num_key_value_heads: optional(posInt),
    head_dim: optional(posInt),
    max_position_embeddings: posInt,
    intermediate_size: optional(posInt),
    rms_norm_eps: optional(positive),
    layer_norm_eps: optional(positive),
    norm_eps: optional(positive),
    hidden_act: optional(z.enum([...ACTIVATIONS, "swish"])),
    tie_word_embeddings: optional(bool),
    attention_bias: optional(bool),
  },
  check(cfg, report) {
    const heads = cfg.num_attention_heads as number;
    const kv = cfg.num_key_value_heads as number | null | undefined;
    if (typeof kv === "number" && heads % kv !== 0) report("num_key_value_heads", `${kv} must divide num_attention_heads ${heads}`);
    const h = cfg.hidden_size as number;
    if (cfg.head_dim == null && h % heads !== 0) report("num_attention_heads", `${heads} must divide hidden_size ${h} (no head_dim is given)`);
  },
};

const ropeFields = {
  rope_type: optional(z.enum(SUPPORTED_ROPE_TYPES as [string, ...string[]])),
  type: optional(z.enum(SUPPORTED_ROPE_TYPES as [string, ...string[]])),
  rope_theta: optional(positive),
  partial_rotary_factor: optional(positive.max(1)),
  factor: optional(positive),
  original_max_position_embeddings: optional(posInt),
  attention_factor: optional(positive),
  // 0 stands for the defaults (32 and 1), as in transformers
  beta_fast: optional(z.number().min(0)),
  beta_slow: optional(z.number().min(0)),
  mscale: optional(z.number().min(0)),
  mscale_all_dim: optional(z.number().min(0)),
  short_factor: optional(z.array(positive)),
  long_factor: optional(z.array(positive)),
  short_mscale: optional(positive),
  long_mscale: optional(positive),
  alpha: optional(positive),
  truncate: optional(bool),
  low_freq_factor: optional(positive),
  high_freq_factor: optional(positive),
};

/** RoPE: θ and rotary fraction at the top level (older configs) or in rope_parameters / rope_scaling. */
export const ROPE: SchemaPiece = {
  fields: {
    rope_theta: optional(positive),
    partial_rotary_factor: optional(positive.max(1)),
    rope_parameters: optional(z.looseObject(ropeFields)),
    rope_scaling: optional(z.looseObject(ropeFields)),
  },
};

/** Routed experts: counts under any of the families' names, top-k ≤ experts. */
export function routedExperts(opts: { allowNoExperts?: boolean } = {}): SchemaPiece {
  const count = opts.allowNoExperts ? nonNegInt : posInt;
  return {
    fields: {
      ...Object.fromEntries(NUM_EXPERTS.map((n) => [n, optional(count)])),
      ...Object.fromEntries(TOP_K.map((n) => [n, optional(posInt)])),
      moe_intermediate_size: optional(posInt),
      norm_topk_prob: optional(bool),
    },
    check(cfg, report) {
      const e = first(cfg, NUM_EXPERTS);
      const k = first(cfg, TOP_K);
      if (!e) report(NUM_EXPERTS[0]!, `is required (or one of ${NUM_EXPERTS.slice(1).join(", ")})`);
      if (!k) report(TOP_K[0]!, `is required (or one of ${TOP_K.slice(1).join(", ")})`);
      if (!e || !k) return;
      const experts = e[1] as number | number[];
      const topK = k[1] as number | number[];
      for (let l = 0; l < (cfg.num_hidden_layers as number); l++) {
        const el = Array.isArray(experts) ? experts[l] : experts;
        const kl = Array.isArray(topK) ? topK[l] : topK;
        if (el === undefined || kl === undefined || el === 0) continue;
        if (kl > el) return report(k[0], `${kl} must be ≤ ${e[0]} ${el}${Array.isArray(experts) || Array.isArray(topK) ? ` (layer ${l})` : ""}`);
      }
    },
  };
}

/** DeepSeek-V3-style grouped routing: experts in n_group groups, the best topk_group groups kept, weights × routed_scaling_factor. */
export const GROUPED_ROUTING: SchemaPiece = {
  fields: {
    n_group: optional(posInt),
    topk_group: optional(posInt),
    routed_scaling_factor: optional(positive),
    first_k_dense_replace: optional(nonNegInt),
    n_shared_experts: optional(nonNegInt),
  },
  check(cfg, report) {
    // deepseek_v2's greedy top-k ignores the groups
    if (cfg.topk_method === "greedy") return;
    const groups = (cfg.n_group as number | null | undefined) ?? 1;
    const keep = (cfg.topk_group as number | null | undefined) ?? 1;
    const e = first(cfg, NUM_EXPERTS)?.[1];
    const k = first(cfg, TOP_K)?.[1];
    if (keep > groups) return report("topk_group", `${keep} must be ≤ n_group ${groups}`);
    if (typeof e !== "number") return;
    if (e % groups !== 0) return report("n_group", `${groups} must divide the ${e} routed experts`);
    if (typeof k === "number" && k > keep * (e / groups)) report("num_experts_per_tok", `${k} must be ≤ topk_group ${keep} × ${e / groups} experts per group`);
  },
};

/** DeepSeek multi-head latent attention. */
export const MLA: SchemaPiece = {
  fields: {
    q_lora_rank: optional(posInt),
    kv_lora_rank: posInt,
    qk_nope_head_dim: posInt,
    qk_rope_head_dim: posInt,
    v_head_dim: posInt,
    rope_interleave: optional(bool),
    mlp_bias: optional(bool),
  },
};

/**
 * A sliding window and per-layer attention kinds. `gate`: a boolean field that must be true for the
 * window to apply (qwen's use_sliding_window); while it is false a window of 0 means none.
 */
export function slidingWindow(gate?: string): SchemaPiece {
  return {
    fields: {
      sliding_window: optional(nonNegInt),
      layer_types: optional(perLayerList(z.enum(LAYER_TYPES))),
      ...(gate ? { [gate]: optional(bool) } : {}),
    },
    check(cfg, report) {
      const inUse = gate === undefined || cfg[gate] === true;
      if (inUse && cfg.sliding_window === 0) report("sliding_window", `must be ≥ 1 (or null for none), got 0`);
      checkListLength(cfg, report, "layer_types");
    },
  };
}

/**
 * Hybrid models' per-layer mixer kinds: `layer_types` lists one of `kinds` per layer (the names the
 * family's config uses, e.g. "full_attention", "linear_attention"); required unless `optionalList`.
 */
export function layerKinds(kinds: readonly [string, ...string[]], opts: { optionalList?: boolean } = {}): SchemaPiece {
  const list = perLayerList(z.enum(kinds));
  return {
    fields: { layer_types: opts.optionalList ? optional(list) : list },
    check: (cfg, report) => checkListLength(cfg, report, "layer_types"),
  };
}

/** Per-layer "dense" | "sparse" MLP kinds. */
export const MLP_LAYER_TYPES: SchemaPiece = {
  fields: { mlp_layer_types: optional(perLayerList(z.enum(["dense", "sparse"]))) },
  check: (cfg, report) => checkListLength(cfg, report, "mlp_layer_types"),
};

/** Multi-token-prediction layers stored after the decoder's (left unused, see FamilyDefinition.unusedByDesign). */
export const MTP: SchemaPiece = { fields: { num_nextn_predict_layers: optional(nonNegInt), num_mtp_layers: optional(nonNegInt) } };

/** q, k, v clamped to ±clip_qkv. */
export const CLIP_QKV: SchemaPiece = { fields: { clip_qkv: optional(positive) } };

function describe(v: unknown): string {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  return typeof v === "object" ? "an object" : String(v);
}

const NOUNS: Record<string, string> = { number: "a finite number", int: "an integer", boolean: "true or false", object: "an object", array: "a list", string: "a string" };

function issueText(i: z.core.$ZodIssue): string {
  const input = (i as { input?: unknown }).input;
  const got = `, got ${describe(input)}`;
  switch (i.code) {
    case "invalid_type":
      if (input === undefined) return "is required";
      return `must be ${NOUNS[i.expected] ?? i.expected}${got}`;
    case "too_small":
      return i.origin === "array" ? `must list at least ${String(i.minimum)} entries` : `must be ${i.inclusive ? "≥" : ">"} ${String(i.minimum)}${got}`;
    case "too_big":
      return i.origin === "array" ? `must list at most ${String(i.maximum)} entries` : `must be ${i.inclusive ? "≤" : "<"} ${String(i.maximum)}${got}`;
    case "invalid_value":
      return `must be one of ${i.values.map((v) => JSON.stringify(v)).join(", ")}${got}`;
    default:
      return i.message;
  }
}

function fieldName(path: readonly PropertyKey[]): string {
  return path.map((p, n) => (typeof p === "number" ? `[${p}]` : `${n > 0 ? "." : ""}${String(p)}`)).join("");
}

/**
 * Throws one error naming every field at fault (up to 5) unless `cfg` satisfies the family's schema;
 * `storedNames` gives the config's own name of a converted field (dbrx's ffn_config.moe_top_k).
 */
export function validateConfig(cfg: Config, modelType: string, schema: ConfigSchema, storedNames: Readonly<Record<string, string>> = {}): void {
  const r = schema.zod.safeParse(cfg, { reportInput: true });
  if (r.success) return;
  const named = (path: readonly PropertyKey[]) => {
    const f = fieldName(path);
    const stored = storedNames[String(path[0])];
    return stored ? `'${f}' (${stored})` : `'${f}'`;
  };
  const issues = r.error.issues.map((i) => `${named(i.path)} ${issueText(i)}`);
  const more = issues.length > 5 ? `; and ${issues.length - 5} more` : "";
  throw new Error(`config.json (${modelType}): ${issues.slice(0, 5).join("; ")}${more}`);
}
