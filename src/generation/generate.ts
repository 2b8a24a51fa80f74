/**
 * The decoding loop: one prefill over the (left-padded) prompt, then one cached step per token.
 * Rows that emit an eos keep receiving the pad id; the loop ends when every row has finished, after
 * maxNewTokens, or at the model's context length.
 */
import { KVCache } from "../models/cache/kv-cache.js";
import { shapeString, Tensor } from "../tensor.js";
import {
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  sample,
  suppressTokens,
} from "./logits-processors.js";
import type { GenerateOptions, ResolvedGenerateOptions } from "./options.js";
import { makeRng } from "./rng.js";

export interface GenerationModel {
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly numLayers: number;
  forward(inputIds: Tensor, opts: { attentionMask?: Tensor; cache?: KVCache; logitsToKeep?: number }): Promise<{ logits: Tensor }>;
}

/** Yields each step's new tokens [B]. */
export async function* generateSteps(
  model: GenerationModel,
  inputIds: Tensor,
  opts: GenerateOptions,
  resolved: ResolvedGenerateOptions,
): AsyncGenerator<Int32Array> {
  if (inputIds.rank !== 2 || inputIds.dtype !== "int32") throw new Error(`generate: inputIds must be int32 [B, S], got ${inputIds.toString()}`);
  const [batch, promptLen] = inputIds.shape as [number, number];
  if (promptLen < 1) throw new Error("generate: the prompt is empty");
  if (promptLen > model.maxPositions) {
    throw new Error(`generate: the prompt has ${promptLen} tokens, more than the model's context of ${model.maxPositions} (max_position_embeddings)`);
  }
  const r = resolved;
  const prompt = (await inputIds.data()) as Int32Array;
  const seqs: number[][] = Array.from({ length: batch }, (_, b) => Array.from(prompt.subarray(b * promptLen, (b + 1) * promptLen)));
  let mask: number[][] | undefined;
  if (opts.attentionMask) {
    const m = opts.attentionMask;
    if (m.rank !== 2 || m.shape[0] !== batch || m.shape[1] !== promptLen) {
      throw new Error(`generate: attentionMask must be [${batch}, ${promptLen}] like inputIds, got ${shapeString(m.shape)}`);
    }
    const mv = await m.data();
    mask = Array.from({ length: batch }, (_, b) => Array.from(mv.subarray(b * promptLen, (b + 1) * promptLen), (x) => (x !== 0 ? 1 : 0)));
  }
  const maskTensor = () => (mask ? Tensor.from(Int32Array.from(mask.flat()), [batch, mask[0]!.length]) : undefined);
  const rng = makeRng(r.seed);
  const cache = new KVCache(model.numLayers);
  const finished = new Uint8Array(batch);
  const limit = Math.min(r.maxNewTokens, model.maxPositions - promptLen);
  let next: Tensor = inputIds;
  for (let step = 0; step < limit; step++) {
    const { logits } = await model.forward(next, { attentionMask: maskTensor(), cache, logitsToKeep: 1 });
    const values = (await logits.data()) as Float32Array;
    const v = model.vocabSize;
    const tokens = new Int32Array(batch);
    for (let b = 0; b < batch; b++) {
      if (finished[b]) {
        tokens[b] = r.padTokenId;
        continue;
      }
      const scores = Float64Array.from(values.subarray(b * v, (b + 1) * v));
      applyRepetitionPenalty(scores, seqs[b]!, r.repetitionPenalty);
      if (step < r.minNewTokens) suppressTokens(scores, r.eosTokenIds);
      if (r.doSample) {
        applyTemperature(scores, r.temperature);
        applyTopK(scores, r.topK);
        applyTopP(scores, r.topP);
        tokens[b] = sample(scores, rng);
      } else {
        tokens[b] = argmax(scores);
      }
      if (r.eosTokenIds.includes(tokens[b]!)) finished[b] = 1;
    }
    for (let b = 0; b < batch; b++) {
      seqs[b]!.push(tokens[b]!);
      mask?.[b]!.push(1);
    }
    yield tokens;
    if (finished.every((f) => f === 1)) return;
    next = Tensor.from(tokens, [batch, 1]);
  }
}

/** Runs the loop to the end; returns ids [B, S + new] (prompt included). */
export async function generate(model: GenerationModel, inputIds: Tensor, opts: GenerateOptions, resolved: ResolvedGenerateOptions): Promise<Tensor> {
  const [batch, promptLen] = inputIds.shape as [number, number];
  const steps: Int32Array[] = [];
  for await (const tokens of generateSteps(model, inputIds, opts, resolved)) {
    steps.push(tokens);
    if (opts.onToken) await opts.onToken(tokens, steps.length - 1);
  }
  const prompt = (await inputIds.data()) as Int32Array;
  const width = promptLen + steps.length;
  const out = new Int32Array(batch * width);
  for (let b = 0; b < batch; b++) {
    out.set(prompt.subarray(b * promptLen, (b + 1) * promptLen), b * width);
    steps.forEach((t, i) => (out[b * width + promptLen + i] = t[b]!));
  }
  return Tensor.from(out, [batch, width]);
}
