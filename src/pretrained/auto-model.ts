/** `AutoModelForCausalLM.fromPretrained(dirOrRepoId, options)`: model_type picks the family. */
import { Checkpoint } from "../loading/checkpoint.js";
import type { MoeForCausalLM } from "../models/causal-lm.js";
import { loadCausalLM, type LoadModelOptions } from "../models/build/load-causal-lm.js";
import { resolveCheckpointDir, type ResolveOptions } from "../loading/resolve-source.js";

export type FromPretrainedOptions = LoadModelOptions & ResolveOptions;

export const AutoModelForCausalLM = {
  async fromPretrained(source: string | Checkpoint, opts: FromPretrainedOptions = {}): Promise<MoeForCausalLM> {
    const ckpt = source instanceof Checkpoint ? source : await Checkpoint.open(await resolveCheckpointDir(source, opts));
    return loadCausalLM(ckpt, opts);
  },
};
