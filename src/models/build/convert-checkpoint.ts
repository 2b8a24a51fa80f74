/**
 * A checkpoint as the shared loaders read it: the family's config conversion and key renames applied
 * (config/family.ts CheckpointConversion). Tensors stay where they are; the converted checkpoint reads
 * each through its original name, on demand.
 */
import { Checkpoint, type TensorProvider } from "../../loading/checkpoint.js";
import type { FamilyDefinition } from "../config/family.js";
import { familyFor } from "../families/index.js";
import { validateConfig } from "../config/schema.js";

/** Converted checkpoint → its original names (new name → original). */
const originals = new WeakMap<Checkpoint, Map<string, string>>();

/** The family of a checkpoint and the checkpoint with that family's conversion applied (itself when it has none). */
/** The config is validated against the family's schema here, before any loader reads a field. */
export function familyCheckpoint(ckpt: Checkpoint): { fam: FamilyDefinition; ckpt: Checkpoint } {
  const raw: unknown = ckpt.config;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new Error(`checkpoint '${ckpt.name}': config must be a JSON object, got ${raw === null ? "null" : Array.isArray(raw) ? "a list" : typeof raw}`);
  if (ckpt.config.model_type === undefined) throw new Error(`checkpoint '${ckpt.name}': config.json has no model_type`);
  const fam = familyFor(ckpt.config.model_type);
  const converted = convertCheckpoint(ckpt, fam);
  validateConfig(converted.config, fam.modelType, fam.config, fam.checkpoint?.fieldNames);
  return { fam, ckpt: converted };
}

/** Applies `fam.checkpoint` once: a checkpoint this module already converted is returned as is. */
export function convertCheckpoint(ckpt: Checkpoint, fam: FamilyDefinition): Checkpoint {
  const conv = fam.checkpoint;
  if (!conv || originals.has(ckpt)) return ckpt;
  const names = new Map<string, string>();
  for (const key of ckpt.keys()) {
    const renamed = rename(key, conv.renames ?? []);
    const clash = names.get(renamed);
    if (clash !== undefined) throw new Error(`checkpoint '${ckpt.name}': '${clash}' and '${key}' both map to '${renamed}' (${fam.modelType} key renames)`);
    names.set(renamed, key);
  }
  const providers = new Map<string, TensorProvider>();
  for (const [name, original] of names) {
    providers.set(name, { info: () => ({ ...ckpt.info(original), name }), tensor: () => ckpt.tensor(original) });
  }
  const config = conv.config ? conv.config(ckpt.config) : ckpt.config;
  const out = new Checkpoint(ckpt.name, config, providers, ckpt.generationConfig);
  originals.set(out, names);
  return out;
}

/** Keys of a (possibly converted) checkpoint never read, by their names in the checkpoint files. */
export function unusedOriginalKeys(ckpt: Checkpoint): string[] {
  const names = originals.get(ckpt);
  return ckpt.unusedKeys().map((k) => names?.get(k) ?? k);
}

function rename(key: string, rules: NonNullable<FamilyDefinition["checkpoint"]>["renames"] & object): string {
  for (const [pattern, replacement] of rules) {
    if (pattern.test(key)) return typeof replacement === "string" ? key.replace(pattern, replacement) : key.replace(pattern, replacement);
  }
  return key;
}
