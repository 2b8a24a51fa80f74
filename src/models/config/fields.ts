/** Reading fields of a Hugging Face config.json, with aliases and clear errors. */
import type { Config } from "../../loading/checkpoint.js";

export function field<T>(cfg: Config, names: string[], fallback?: T): T {
  for (const n of names) {
    const v = cfg[n];
    if (v !== undefined && v !== null) return v as T;
  }
  if (fallback !== undefined) return fallback;
  throw new Error(`config.json (model_type ${String(cfg.model_type)}) lacks ${names.map((n) => `'${n}'`).join(" / ")}`);
}

export function intField(cfg: Config, names: string[], fallback?: number): number {
  const v = field<number>(cfg, names, fallback);
  if (!Number.isInteger(v)) throw new Error(`config.json field '${names[0]}' must be an integer, got ${JSON.stringify(v)}`);
  return v;
}

export function numField(cfg: Config, names: string[], fallback?: number): number {
  const v = field<number>(cfg, names, fallback);
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`config.json field '${names[0]}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

export function boolField(cfg: Config, names: string[], fallback: boolean): boolean {
  const v = field<boolean>(cfg, names, fallback);
  if (typeof v !== "boolean") throw new Error(`config.json field '${names[0]}' must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A per-layer value that may be given as one number or a list indexed by layer (hunyuan). */
export function perLayer(cfg: Config, names: string[], layer: number): number {
  const v = field<number | number[]>(cfg, names);
  if (Array.isArray(v)) {
    const x = v[layer];
    if (!Number.isInteger(x)) throw new Error(`config.json field '${names[0]}' has no integer entry for layer ${layer}`);
    return x!;
  }
  return intField(cfg, names);
}

export const NUM_EXPERTS = ["num_experts", "num_local_experts", "n_routed_experts", "moe_num_experts"];
export const TOP_K = ["num_experts_per_tok", "moe_k", "moe_topk"];
