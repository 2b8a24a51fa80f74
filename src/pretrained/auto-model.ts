/**
 * The public entries that build a MoeForCausalLM: `AutoModelForCausalLM.fromPretrained(source,
 * options)` — a checkpoint directory, a Hugging Face repo id or a `.gguf` file (model_type, or the
 * GGUF's architecture, picks the family) — and `loadCausalLM(checkpoint, options)`.
 */
import { Checkpoint } from "../loading/checkpoint.js";
import { isGgufPath, openCheckpoint } from "../loading/open-checkpoint.js";
import { resolveCheckpointDir, type ResolveOptions } from "../loading/resolve-source.js";
import { loadCausalLMParts, type LoadModelOptions } from "../models/build/load-causal-lm.js";
import { MoeForCausalLM } from "./moe-for-causal-lm.js";
import { progressCheckpoint, progressFetch, safeProgress, weightFiles, type ProgressCallback } from "./progress.js";

export interface ProgressOptions {
  /** Download and load progress (transformers.js' progress_callback): initiate / progress / done per file, then ready. */
  progressCallback?: ProgressCallback;
}

export type FromPretrainedOptions = LoadModelOptions & Omit<ResolveOptions, "fetch"> & ProgressOptions;

export async function loadCausalLM(ckpt: Checkpoint, opts: LoadModelOptions & ProgressOptions = {}): Promise<MoeForCausalLM> {
  const cb = safeProgress(opts.progressCallback);
  let source = ckpt;
  let finish = () => {};
  if (cb) ({ checkpoint: source, finish } = progressCheckpoint(ckpt, () => "model.safetensors", cb));
  return build(source, opts, finish, cb);
}

async function build(ckpt: Checkpoint, opts: LoadModelOptions, finish: () => void, cb: ProgressCallback | undefined): Promise<MoeForCausalLM> {
  const model = new MoeForCausalLM(await loadCausalLMParts(ckpt, opts), { ownsBackend: typeof opts.backend !== "object" });
  finish();
  cb?.({ status: "ready", name: ckpt.name, model: model.modelType });
  return model;
}

export const AutoModelForCausalLM = {
  async fromPretrained(source: string | Checkpoint, opts: FromPretrainedOptions = {}): Promise<MoeForCausalLM> {
    if (source instanceof Checkpoint) return loadCausalLM(source, opts);
    if (isGgufPath(source)) return loadCausalLM(await openCheckpoint(source), opts);
    const cb = safeProgress(opts.progressCallback);
    const dir = await resolveCheckpointDir(source, { ...opts, ...(cb ? { fetch: progressFetch(source, cb) } : {}) });
    const ckpt = await Checkpoint.open(dir);
    if (!cb) return build(ckpt, opts, () => {}, undefined);
    const { checkpoint, finish } = progressCheckpoint(ckpt, await weightFiles(dir), cb);
    return build(checkpoint, opts, finish, cb);
  },
};
