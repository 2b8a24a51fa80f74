/**
 * The public entries that build a MoeForCausalLM: `AutoModelForCausalLM.fromPretrained(source,
 * options)` — a checkpoint directory, a Hugging Face repo id or a `.gguf` file (model_type, or the
 * GGUF's architecture, picks the family) — and `loadCausalLM(checkpoint, options)`.
 */
import { Checkpoint } from "../loading/checkpoint.js";
import { openCheckpoint } from "../loading/open-checkpoint.js";
import type { ResolveOptions } from "../loading/resolve-source.js";
import { loadCausalLMParts, type LoadModelOptions } from "../models/build/load-causal-lm.js";
import { MoeForCausalLM } from "./moe-for-causal-lm.js";

export type FromPretrainedOptions = LoadModelOptions & ResolveOptions;

export async function loadCausalLM(ckpt: Checkpoint, opts: LoadModelOptions = {}): Promise<MoeForCausalLM> {
  return new MoeForCausalLM(await loadCausalLMParts(ckpt, opts));
}

export const AutoModelForCausalLM = {
  async fromPretrained(source: string | Checkpoint, opts: FromPretrainedOptions = {}): Promise<MoeForCausalLM> {
    const ckpt = source instanceof Checkpoint ? source : await openCheckpoint(source, opts);
    return loadCausalLM(ckpt, opts);
  },
};
