/**
 * RoPE configuration, normalised: `rope_theta` + `rope_scaling` (older configs) and `rope_parameters`
 * (transformers 5) fold into one record (`type` → `rope_type`; `partial_rotary_factor` from either level).
 */
import type { Config } from "../../loading/checkpoint.js";

export interface RopeParameters {
  /** "default", "linear", "dynamic", "yarn", "longrope" */
  type: string;
  theta: number;
  partialRotaryFactor: number;
  /** Every other field as given (factor, beta_fast, short_factor, mscale_all_dim, alpha, ...). */
  extra: Record<string, unknown>;
}

export const SUPPORTED_ROPE_TYPES = ["default", "linear", "dynamic", "yarn", "longrope"];

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function normaliseRope(cfg: Config, defaultTheta: number): RopeParameters {
  const merged: Record<string, unknown> = { ...(asRecord(cfg.rope_scaling) ?? {}), ...(asRecord(cfg.rope_parameters) ?? {}) };
  const type = String(merged.rope_type ?? merged.type ?? "default");
  if (!SUPPORTED_ROPE_TYPES.includes(type)) {
    throw new Error(`config.json: unsupported rope type '${type}' (supported: ${SUPPORTED_ROPE_TYPES.join(", ")})`);
  }
  const theta = Number(merged.rope_theta ?? cfg.rope_theta ?? defaultTheta);
  const partial = Number(merged.partial_rotary_factor ?? cfg.partial_rotary_factor ?? 1);
  if (!(theta > 0)) throw new Error(`config.json: rope_theta must be positive, got ${String(merged.rope_theta ?? cfg.rope_theta)}`);
  if (!(partial > 0 && partial <= 1)) throw new Error(`config.json: partial_rotary_factor must be in (0, 1], got ${partial}`);
  const extra = { ...merged };
  for (const k of ["rope_type", "type", "rope_theta", "partial_rotary_factor"]) delete extra[k];
  return { type, theta, partialRotaryFactor: partial, extra };
}
