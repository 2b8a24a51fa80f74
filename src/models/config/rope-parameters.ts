/**
 * RoPE configuration, normalised: `rope_theta` + `rope_scaling` (older configs) and `rope_parameters`
 * (transformers 5) fold into one record (`type` → `rope_type`; `partial_rotary_factor` from either level).
 */
import type { Config } from "../../loading/checkpoint.js";

export interface RopeParameters {
  /** "default", "linear", "dynamic", "yarn", "longrope", "llama3" */
  type: string;
  theta: number;
  partialRotaryFactor: number;
  /** Every other field as given (factor, beta_fast, short_factor, mscale_all_dim, alpha, ...). */
  extra: Record<string, unknown>;
}

export const SUPPORTED_ROPE_TYPES: readonly string[] = ["default", "linear", "dynamic", "yarn", "longrope", "llama3"];

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function normaliseRope(cfg: Config, defaultTheta: number): RopeParameters {
  const merged: Record<string, unknown> = { ...(asRecord(cfg.rope_scaling) ?? {}), ...(asRecord(cfg.rope_parameters) ?? {}) };
  const type = merged.rope_type ?? merged.type ?? "default";
  if (typeof type !== "string" || !SUPPORTED_ROPE_TYPES.includes(type)) {
    throw new Error(`config.json: unsupported rope type '${String(type)}' (supported: ${SUPPORTED_ROPE_TYPES.join(", ")})`);
  }
  // the family's schema has checked the types; these guard direct callers
  const theta = merged.rope_theta ?? cfg.rope_theta ?? defaultTheta;
  const partial = merged.partial_rotary_factor ?? cfg.partial_rotary_factor ?? 1;
  if (typeof theta !== "number" || !(theta > 0 && Number.isFinite(theta))) throw new Error(`config.json: rope_theta must be a finite positive number, got ${String(theta)}`);
  if (typeof partial !== "number" || !(partial > 0 && partial <= 1)) throw new Error(`config.json: partial_rotary_factor must be in (0, 1], got ${String(partial)}`);
  const extra = { ...merged };
  for (const k of ["rope_type", "type", "rope_theta", "partial_rotary_factor"]) delete extra[k];
  return { type, theta, partialRotaryFactor: partial, extra };
}
