/**
 * The public entries that build a MoeForCausalLM: `AutoModelForCausalLM.fromPretrained(dirOrRepoId,
 * options)` (model_type picks the family) and `loadCausalLM(checkpoint, options)`.
 */
import { Checkpoint } from "../loading/checkpoint.js";
import { resolveCheckpointDir, type ResolveOptions } from "../loading/resolve-source.js";
import { loadCausalLMParts, type LoadModelOptions } from "../models/build/load-causal-lm.js";
import { MoeForCausalLM } from "./moe-for-causal-lm.js";

export type FromPretrainedOptions = LoadModelOptions & ResolveOptions;

export async function loadCausalLM(ckpt: Checkpoint, opts: LoadModelOptions = {}): Promise<MoeForCausalLM> {
  return new MoeForCausalLM(await loadCausalLMParts(ckpt, opts));
}

export const AutoModelForCausalLM = {
  async fromPretrained(source: string | Checkpoint, opts: FromPretrainedOptions = {}): Promise<MoeForCausalLM> {
    const ckpt = source instanceof Checkpoint ? source : await Checkpoint.open(await resolveCheckpointDir(source, opts));
    return loadCausalLM(ckpt, opts);
  },
};
