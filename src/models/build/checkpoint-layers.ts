/**
 * The checkpoint's decoder layers against num_hidden_layers, and what to say about tensors the model
 * leaves unused. Checked before anything is planned or read, so `num_hidden_layers: 1e6` fails at once.
 */
import type { Checkpoint, Config } from "../../loading/checkpoint.js";
import type { FamilyDefinition } from "../config/family.js";

const LAYER_KEY = /^model\.layers\.(\d+)\./;
/** Buffers older checkpoints saved that transformers never loads. */
const ALWAYS_IGNORED = [/\.rotary_emb\.inv_freq$/];

/** Layers after the decoder's that the family's checkpoints may hold (multi-token prediction). */
function extraLayers(fam: FamilyDefinition, raw: Config): number {
  return fam.unusedByDesign?.mtpLayers?.(raw) ?? 0;
}

/**
 * Throws unless the checkpoint's model.layers.N indices cover exactly 0 … num_hidden_layers − 1 (plus the
 * family's multi-token-prediction layers): more layers in the config than in the checkpoint would read
 * missing tensors; fewer would silently drop trained layers and change every output.
 */
export function checkLayerCount(ckpt: Checkpoint, fam: FamilyDefinition, raw: Config, numLayers: number): void {
  let highest = -1;
  for (const key of ckpt.keys()) {
    const m = LAYER_KEY.exec(key);
    if (m) highest = Math.max(highest, Number(m[1]));
  }
  const where = `config.json (${fam.modelType})`;
  if (numLayers > highest + 1) {
    const held = highest < 0 ? "no model.layers.N tensors" : `layers 0 … ${highest} only`;
    throw new Error(`${where}: num_hidden_layers is ${numLayers} but checkpoint '${ckpt.name}' holds ${held}`);
  }
  const allowed = numLayers + extraLayers(fam, raw);
  if (highest >= allowed) {
    throw new Error(
      `${where}: num_hidden_layers is ${numLayers} but checkpoint '${ckpt.name}' holds tensors of layer ${highest} ` +
        `(model.layers.${highest}.*): the config leaves trained layers out`,
    );
  }
}

/** Unused keys (stored names) that no family rule explains: worth a warning, as transformers gives for unexpected keys. */
export function unexpectedKeys(unused: readonly string[], fam: FamilyDefinition, raw: Config, numLayers: number): string[] {
  const own = fam.unusedByDesign?.ignore;
  const ignore = [...ALWAYS_IGNORED, ...(typeof own === "function" ? own(raw) : (own ?? []))];
  const extra = extraLayers(fam, raw);
  return unused.filter((key) => {
    if (ignore.some((r) => r.test(key))) return false;
    const m = LAYER_KEY.exec(key);
    return !(m && Number(m[1]) >= numLayers && Number(m[1]) < numLayers + extra);
  });
}
