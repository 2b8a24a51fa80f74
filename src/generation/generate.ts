/**
 * The decoding loop: one prefill over the (left-padded) prompt, then one cached step per token.
 * Rows that emit an eos keep receiving the pad id; the loop ends when every row has finished, after
 * maxNewTokens, or at the model's context length.
 */
import type { Config } from "../loading/checkpoint.js";
import type { ModelCache } from "../models/cache/model-cache.js";
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
import type { KvCacheDtype } from "../models/cache/kv-dtype.js";
import { resolveGenerateOptions, type GenerateOptions, type ResolvedGenerateOptions } from "./options.js";
import { makeRng, type Rng } from "./rng.js";

/** What the loop needs of a model (src/models' CausalLM has it): generation depends on models, never the reverse. */
export interface GenerationModel {
  readonly vocabSize: number;
  readonly maxPositions: number;
  /** generation_config.json and config.json: the defaults of the options (eos, pad, sampling). */
  readonly generationConfig: Config | null;
  readonly rawConfig: Config;
  newCache(opts?: { kvCacheDtype?: KvCacheDtype }): ModelCache;
  forward(inputIds: Tensor, opts: { attentionMask?: Tensor; cache?: ModelCache; logitsToKeep?: number; logitsInto?: Float32Array }): Promise<{ logits: Tensor }>;
}

function checkInputs(what: string, inputIds: unknown, opts: unknown): asserts inputIds is Tensor {
  const signal = (opts as GenerateOptions | null)?.signal;
  if (signal !== undefined && !isAbortSignal(signal)) throw new Error(`${what}: signal must be an AbortSignal (new AbortController().signal), got ${describe(signal)}`);
  if (!(inputIds instanceof Tensor)) throw new Error(`${what}: inputIds must be an int32 [B, S] tensor (e.g. Tensor.from(Int32Array.from(ids), [1, ids.length])), got ${describe(inputIds)}`);
  if (inputIds.rank !== 2 || inputIds.dtype !== "int32") throw new Error(`${what}: inputIds must be int32 [B, S], got ${inputIds.toString()}`);
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) throw new Error(`${what}: options must be an object, got ${describe(opts)}`);
  const mask = (opts as GenerateOptions).attentionMask;
  if (mask !== undefined) {
    const [batch, promptLen] = inputIds.shape as [number, number];
    if (!(mask instanceof Tensor) || mask.dtype !== "int32" || mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== promptLen) {
      throw new Error(`${what}: attentionMask must be an int32 [${batch}, ${promptLen}] tensor like inputIds, got ${mask instanceof Tensor ? mask.toString() : describe(mask)}`);
    }
  }
}

function isAbortSignal(v: unknown): v is AbortSignal {
  return typeof v === "object" && v !== null && typeof (v as AbortSignal).aborted === "boolean" && typeof (v as AbortSignal).addEventListener === "function";
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array [${v.slice(0, 4).join(", ")}${v.length > 4 ? ", ..." : ""}]`;
  return v === null ? "null" : typeof v === "object" ? `a ${v.constructor?.name ?? "object"}` : `${typeof v} ${String(v)}`;
}

/** Mask entries are 0 (padding) or 1, and every row keeps at least one token (else attention has no key). */
export function checkMaskValues(what: string, m: Int32Array, width: number): void {
  for (let i = 0; i < m.length; i++) {
    if (m[i] !== 0 && m[i] !== 1) throw new Error(`${what}: attentionMask[${Math.floor(i / width)}, ${i % width}] is ${m[i]}, not 0 or 1`);
  }
  for (let r = 0; r * width < m.length; r++) {
    if (!m.subarray(r * width, (r + 1) * width).includes(1)) throw new Error(`${what}: attentionMask row ${r} masks every token`);
  }
}

/** Yields each step's new tokens [B] as they are produced. */
export function stream(model: GenerationModel, inputIds: Tensor, opts: GenerateOptions = {}): AsyncGenerator<Int32Array> {
  checkInputs("stream", inputIds, opts);
  return steps(model, inputIds, opts, resolveGenerateOptions(opts, model.generationConfig, model.rawConfig, model.vocabSize));
}

async function* steps(model: GenerationModel, inputIds: Tensor, opts: GenerateOptions, resolved: ResolvedGenerateOptions): AsyncGenerator<Int32Array> {
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
    checkMaskValues("generate", mv as Int32Array, promptLen);
    mask = Array.from({ length: batch }, (_, b) => Array.from(mv.subarray(b * promptLen, (b + 1) * promptLen), (x) => (x !== 0 ? 1 : 0)));
  }
  const maskTensor = () => (mask ? Tensor.from(Int32Array.from(mask.flat()), [batch, mask[0]!.length]) : undefined);
  const rng = makeRng(r.seed);
  const cache = model.newCache(opts.kvCacheDtype !== undefined ? { kvCacheDtype: opts.kvCacheDtype } : {});
  const finished = new Uint8Array(batch);
  const limit = Math.min(r.maxNewTokens, model.maxPositions - promptLen);
  // every step's logits in one buffer (host backends): each step's are read before the next forward
  const logitsInto = new Float32Array(batch * model.vocabSize);
  let next: Tensor = inputIds;
  try {
    for (let step = 0; step < limit; step++) {
      if (opts.signal?.aborted) return;
      const { logits } = await model.forward(next, { attentionMask: maskTensor(), cache, logitsToKeep: 1, logitsInto });
      const tokens = pickTokens(await readLogits(logits), model.vocabSize, step, seqs, finished, r, rng);
      for (let b = 0; b < batch; b++) {
        seqs[b]!.push(tokens[b]!);
        mask?.[b]!.push(1);
      }
      yield tokens;
      if (finished.every((f) => f === 1)) return;
      next = Tensor.from(tokens, [batch, 1]);
    }
  } finally {
    // finished, aborted or abandoned by the consumer: the sequences' keys and values go now
    for (const id of cache.sequences) cache.removeSequence(id);
  }
}

/**
 * A step's logits as float32 values to read (never to write): a contiguous float32 host tensor in place, since
 * data() would copy rows × vocabulary floats every step (4.9 MB at 8 rows of a 151,936-token vocabulary).
 */
export async function readLogits(logits: Tensor): Promise<Float32Array> {
  return logits.isHost && !logits.isView && logits.dtype === "float32" ? (logits.hostStorage() as Float32Array) : ((await logits.data()) as Float32Array);
}

/** One step's token per row (finished rows get the pad id; a row that emits an eos is marked finished). */
function pickTokens(values: Float32Array, v: number, step: number, seqs: number[][], finished: Uint8Array, r: ResolvedGenerateOptions, rng: Rng): Int32Array {
  const batch = seqs.length;
  const tokens = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    if (finished[b]) {
      tokens[b] = r.padTokenId;
      continue;
    }
    tokens[b] = chooseToken(values.subarray(b * v, (b + 1) * v), seqs[b]!, step, r, rng);
    if (r.eosTokenIds.includes(tokens[b]!)) finished[b] = 1;
  }
  return tokens;
}

/** Whether chooseToken's choice at `step` is the argmax of the raw logits (no sampling, no penalty, no suppressed eos). */
export function isPlainGreedy(r: ResolvedGenerateOptions, step: number): boolean {
  return !r.doSample && r.repetitionPenalty === 1 && step >= r.minNewTokens;
}

/** The next token of one sequence from its logits row: penalties, then greedy or sampled as `r` says. */
export function chooseToken(logits: Float32Array, history: readonly number[], step: number, r: ResolvedGenerateOptions, rng: Rng): number {
  if (isPlainGreedy(r, step)) return argmax(logits);
  const scores = new Float64Array(logits); // (a typed-array copy: Float64Array.from iterates, far slower on a large vocabulary)
  applyRepetitionPenalty(scores, history, r.repetitionPenalty);
  if (step < r.minNewTokens) suppressTokens(scores, r.eosTokenIds);
  if (!r.doSample) return argmax(scores);
  applyTemperature(scores, r.temperature);
  applyTopK(scores, r.topK);
  applyTopP(scores, r.topP);
  return sample(scores, rng);
}

/** Runs the loop to the end; returns ids [B, S + new] (prompt included). */
export async function generate(model: GenerationModel, inputIds: Tensor, opts: GenerateOptions = {}): Promise<Tensor> {
  checkInputs("generate", inputIds, opts);
  const resolved = resolveGenerateOptions(opts, model.generationConfig, model.rawConfig, model.vocabSize);
  const [batch, promptLen] = inputIds.shape as [number, number];
  const produced: Int32Array[] = [];
  for await (const tokens of steps(model, inputIds, opts, resolved)) {
    produced.push(tokens);
    if (opts.onToken) await opts.onToken(tokens, produced.length - 1);
  }
  const prompt = (await inputIds.data()) as Int32Array;
  const width = promptLen + produced.length;
  const out = new Int32Array(batch * width);
  for (let b = 0; b < batch; b++) {
    out.set(prompt.subarray(b * promptLen, (b + 1) * promptLen), b * width);
    produced.forEach((t, i) => (out[b * width + promptLen + i] = t[b]!));
  }
  return Tensor.from(out, [batch, width]);
}
