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

/** A string field that must be one of `allowed`. */
export function oneOf<T extends string>(cfg: Config, name: string, allowed: readonly T[], fallback: T): T {
  const v = field<unknown>(cfg, [name], fallback);
  if (!allowed.includes(v as T)) throw new Error(`config.json field '${name}' must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(v)}`);
  return v as T;
}

/**
 * The config with canonical fields copied from where a family keeps them: `aliases[name] = [path, fallback]`
 * reads `path` ("a.b" is field b of the object in field a); a value given as null stays null, an absent
 * one takes the fallback (the family's class default).
 */
export function withAliases(cfg: Config, aliases: Record<string, readonly [string, unknown]>): Config {
  const out: Config = { ...cfg };
  for (const [name, [path, fallback]] of Object.entries(aliases)) {
    let v: unknown = cfg;
    for (const part of path.split(".")) v = v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>)[part] : undefined;
    out[name] = v === undefined ? fallback : v;
  }
  return out;
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
