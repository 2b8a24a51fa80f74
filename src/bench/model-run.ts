/**
 * moekit's side of `--scope model`, in one child process per weights dtype: the model is loaded once
 * through AutoModelForCausalLM.fromPretrained (quantized at load for a quantized dtype), then each case
 * runs right after its own ceilings probe (probes.ts, on the same backend). Timed through the model's
 * forward with a KV cache, as a greedy decoding loop runs it: logits of the last position only, the
 * argmax read back to the host each step.
 */
import type { KvCacheDtype } from "../models/cache/kv-dtype.js";
import type { Backend } from "../backends/backend.js";
import type { DType } from "../dtype.js";
import { lastAutoChoice } from "../experts/auto.js";
import { Checkpoint, type Config } from "../loading/checkpoint.js";
import type { TensorReadOptions } from "../loading/safetensors.js";
import { tensorsOf } from "../models/causal-lm.js";
import { intField } from "../models/config/fields.js";
import { isQuantDType, type QuantDType } from "../models/build/quantize.js";
import { AutoModelForCausalLM } from "../pretrained/auto-model.js";
import type { MoeForCausalLM } from "../pretrained/moe-for-causal-lm.js";
import { Tensor } from "../tensor.js";
import type { BackendName, ComputeName } from "./backends.js";
import type { Ceilings } from "./case-spec.js";
import { castCheckpoint } from "./cast-checkpoint.js";
import { CONTEXT_CHUNK, type ModelCase } from "./model-cases.js";
import type { MemorySample } from "./memory.js";
import { measureCeilings } from "./probes.js";
import { QWEN15_MOE_NAME, qwen15MoeConfig } from "./qwen-dims.js";
import { moeMatrixFormats } from "./moe-tensors.js";
import { qwen2MoeTensors } from "./qwen-synthetic.js";
import { seedOf } from "./random.js";
import { syntheticCheckpoint } from "./synthetic.js";

/** Weights dtypes of the model scope: a float one, or one moekit quantizes to at load. */
export type ModelDType = DType | QuantDType;

/** What `moekit bench --scope model` and its per-dtype child process both take. */
export interface ModelRunCommon {
  /** checkpoint directory; absent: the synthetic Qwen1.5-MoE-A2.7B */
  model?: string;
  /** config fields replacing the synthetic model's (smaller dims for tests) */
  dims?: Config;
  layers: number;
  impl?: string;
  backend: BackendName;
  threads?: number;
  /** activation precision of moekit's cpu products (see computeFor in model-bench.ts for the default) */
  compute?: ComputeName;
  /** KV cache format of moekit's runs (default auto: bfloat16 with bfloat16 compute) */
  kvCacheDtype?: KvCacheDtype | "auto";
  warmup: number;
  iters: number;
  seed: number;
  probeMiB: number;
}

export interface ModelRunSpec extends ModelRunCommon {
  dtype: ModelDType;
  /** a quantized dtype: the checkpoint written by `moekit quantize` to load (mapped, stays quantized) instead of quantizing at load */
  quantizedDir?: string;
  /** context length the synthetic model's config declares (max_position_embeddings) */
  positions: number;
  cases: ModelCase[];
}

export interface ModelCaseTiming {
  case: ModelCase;
  /** measured right before this case */
  ceilings: Ceilings;
  /** prefill cases: ms per run; context cases: the one chunked prefill */
  prefillMs: number[];
  /** decode and context cases: steps / their time, per run */
  decodeTokPerS: number[];
  /** for `auto`: what it ran last */
  autoChoice?: string;
  error?: string;
}

export interface ModelRunResult {
  loadMs: number;
  /** resident high-water mark over loading and the cases */
  peakRssBytes: number;
  /** the memory accounting (memory.ts); absent when loading failed */
  memory?: MemorySample;
  timings: ModelCaseTiming[];
}

/** The synthetic Qwen1.5-MoE-A2.7B config of the model scope: its real dims, `positions` of context. */
export function modelBenchConfig(layers: number, positions: number, dims: Config = {}): Config {
  return { ...qwen15MoeConfig(layers), ...dims, num_hidden_layers: layers, max_position_embeddings: positions };
}

/** The checkpoint cut to its first `layers` decoder layers (the config says so; extra keys stay unread). */
export function truncated(ckpt: Checkpoint, layers: number): Checkpoint {
  const total = intField(ckpt.config, ["num_hidden_layers"]);
  if (layers >= total) return ckpt;
  const keep = ckpt.keys().filter((k) => {
    const m = /^model\.layers\.(\d+)\./.exec(k);
    return !m || Number(m[1]) < layers;
  });
  const provider = { info: (k: string) => ckpt.info(k), tensor: (k: string, opts?: TensorReadOptions) => ckpt.tensor(k, opts) };
  return new Checkpoint(ckpt.name, { ...ckpt.config, num_hidden_layers: layers }, new Map(keep.map((k) => [k, provider])), ckpt.generationConfig);
}

/**
 * The checkpoint a model-scope run loads (a float dtype given for a checkpoint casts it; a quantized one quantizes at
 * load). `expertsQuantized`: the synthetic model's expert matrices are generated in the format quantize at load gives
 * them, tensor by tensor (moeMatrixFormats: the same blocks), as loading a mapped float checkpoint drops each
 * tensor's float pages once quantized; otherwise every expert's float tensors of a stack are in memory at once.
 */
export async function modelSource(spec: Pick<ModelRunSpec, "model" | "layers" | "positions" | "seed" | "dtype" | "dims">, opts: { expertsQuantized?: boolean } = {}): Promise<Checkpoint> {
  const float = spec.dtype === "float32" || spec.dtype === "bfloat16" || spec.dtype === "float16";
  if (!spec.model) {
    const base: DType = float ? spec.dtype as DType : "bfloat16";
    const cfg = { ...modelBenchConfig(spec.layers, spec.positions, spec.dims), dtype: base };
    const formats = opts.expertsQuantized && isQuantDType(spec.dtype) ? moeMatrixFormats(cfg, spec.dtype) : undefined;
    return syntheticCheckpoint(QWEN15_MOE_NAME, cfg, qwen2MoeTensors(cfg), base, spec.seed, formats);
  }
  const ckpt = truncated(await Checkpoint.open(spec.model), spec.layers);
  return float ? castCheckpoint(ckpt, spec.dtype as DType) : ckpt;
}

/** One prefill of `ids` as batch rows of equal length on a fresh cache (logits of the last position, as the model scope times it); its logits. */
export async function prefillLastLogits(model: MoeForCausalLM, ids: Int32Array<ArrayBuffer>, batch: number): Promise<Float32Array> {
  const cache = model.newCache();
  try {
    const { logits } = await model.forward(Tensor.from(ids, [batch, ids.length / batch]), { cache, logitsToKeep: 1 });
    return (await logits.data()) as Float32Array;
  } finally {
    for (const id of cache.sequences) cache.removeSequence(id);
  }
}

/** `n` seeded ids in [0, vocab) (an LCG, as the other model benchmarks draw them). */
export function seededIds(n: number, vocab: number, seed: number): Int32Array<ArrayBuffer> {
  let s = seedOf("ids", seed);
  return Int32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % vocab);
}

/** The greedy next id of each of `rows` rows of `vocab` logits. */
export function argmaxRows(logits: Float32Array, rows: number, vocab: number): Int32Array<ArrayBuffer> {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bv = -Infinity;
    for (let i = 0, o = r * vocab; i < vocab; i++) if (logits[o + i]! > bv) bv = logits[o + (best = i)]!;
    out[r] = best;
  }
  return out;
}

class Timer {
  constructor(readonly model: MoeForCausalLM) {}

  /** One cached forward of ids [B, S]; the greedy next id of each row. */
  private async step(ids: Int32Array<ArrayBuffer>, batch: number, cache: ReturnType<MoeForCausalLM["newCache"]>): Promise<Int32Array<ArrayBuffer>> {
    const { logits } = await this.model.forward(Tensor.from(ids, [batch, ids.length / batch]), { cache, logitsToKeep: 1 });
    return argmaxRows((await logits.data()) as Float32Array, batch, this.model.vocabSize);
  }

  private async withCache<T>(f: (cache: ReturnType<MoeForCausalLM["newCache"]>) => Promise<T>): Promise<T> {
    const cache = this.model.newCache();
    try {
      return await f(cache);
    } finally {
      for (const id of cache.sequences) cache.removeSequence(id);
    }
  }

  /** ms until every one of `batch` sequences of `seq` ids has its first token. */
  prefill(batch: number, seq: number, seed: number): Promise<number> {
    const ids = seededIds(batch * seq, this.model.vocabSize, seed);
    return this.withCache(async (cache) => {
      const t0 = performance.now();
      await this.step(ids, batch, cache);
      return performance.now() - t0;
    });
  }

  /** A prompt of `prompt` ids prefilled in chunks (timed), then `steps` greedy one-token steps (tok/s). */
  generate(prompt: number, steps: number, seed: number, chunk = Infinity): Promise<{ prefillMs: number; tokPerS: number }> {
    const ids = seededIds(prompt, this.model.vocabSize, seed);
    return this.withCache(async (cache) => {
      const t0 = performance.now();
      let next: Int32Array<ArrayBuffer> = new Int32Array(1);
      for (let at = 0; at < prompt; at += Math.min(chunk, prompt)) next = await this.step(ids.slice(at, Math.min(prompt, at + chunk)), 1, cache);
      const prefillMs = performance.now() - t0;
      const t1 = performance.now();
      for (let i = 0; i < steps; i++) next = await this.step(next, 1, cache);
      return { prefillMs, tokPerS: (1000 * steps) / (performance.now() - t1) };
    });
  }
}

async function timeCase(t: Timer, c: ModelCase, spec: ModelRunSpec): Promise<Pick<ModelCaseTiming, "prefillMs" | "decodeTokPerS">> {
  if (c.kind === "prefill") {
    for (let i = 0; i < spec.warmup; i++) await t.prefill(c.batch, c.seq, spec.seed);
    const prefillMs: number[] = [];
    for (let i = 0; i < spec.iters; i++) prefillMs.push(await t.prefill(c.batch, c.seq, spec.seed));
    return { prefillMs, decodeTokPerS: [] };
  }
  if (c.kind === "decode") {
    for (let i = 0; i < spec.warmup; i++) await t.generate(c.prompt, Math.min(2, c.newTokens), spec.seed + 1);
    const decodeTokPerS: number[] = [];
    for (let i = 0; i < spec.iters; i++) decodeTokPerS.push((await t.generate(c.prompt, c.newTokens, spec.seed + 1)).tokPerS);
    return { prefillMs: [], decodeTokPerS };
  }
  // long context: one run (its prefill dominates the case's time), warmed by the cases before it
  const r = await t.generate(c.context, c.newTokens, spec.seed + 2, CONTEXT_CHUNK);
  return { prefillMs: [r.prefillMs], decodeTokPerS: [r.tokPerS] };
}

/** The runner's memory measurement around a model run (runner.ts). */
export interface ModelRunHooks {
  /** with the model's weights once it is loaded, before the first case */
  afterLoad?(weights: Tensor[]): Promise<void>;
  /** right before a case's timed runs (after its ceilings probe) and right after them */
  caseStart?(): Promise<void>;
  caseEnd?(): void;
}

/** The model of a run; the checkpoint (a synthetic one's generator and its float buffer) is not kept past loading. */
async function loadModel(spec: ModelRunSpec, backend: Backend): Promise<{ model: MoeForCausalLM; loadMs: number }> {
  const fromFile = spec.quantizedDir !== undefined;
  const ckpt = fromFile ? await Checkpoint.open(spec.quantizedDir!) : await modelSource(spec, { expertsQuantized: true });
  const t0 = performance.now();
  const quantized = !fromFile && !(spec.dtype === "float32" || spec.dtype === "bfloat16" || spec.dtype === "float16");
  const model = await AutoModelForCausalLM.fromPretrained(ckpt, {
    backend,
    ...(quantized ? { dtype: spec.dtype as QuantDType } : {}),
    ...(spec.impl ? { expertsImplementation: spec.impl } : {}),
    ...(spec.kvCacheDtype ? { kvCacheDtype: spec.kvCacheDtype } : {}),
    onWarning: () => undefined,
  });
  return { model, loadMs: performance.now() - t0 };
}

export async function runModelCases(
  spec: ModelRunSpec,
  backend: Backend,
  dtypeForProbe: DType,
  hooks: ModelRunHooks = {},
): Promise<Omit<ModelRunResult, "peakRssBytes">> {
  const { model, loadMs } = await loadModel(spec, backend);
  const p = model.parts;
  await hooks.afterLoad?.([...tensorsOf([p.embedTokens, p.layers, p.norm, p.lmHead])]);
  const timer = new Timer(model);
  const timings: ModelCaseTiming[] = [];
  for (const c of spec.cases) {
    const ceilings = await measureCeilings(backend, dtypeForProbe, spec.probeMiB);
    await hooks.caseStart?.();
    try {
      timings.push({ case: c, ceilings, ...(await timeCase(timer, c, spec)), autoChoice: spec.impl === "auto" ? lastAutoChoice() : undefined });
    } catch (e) {
      timings.push({ case: c, ceilings, prefillMs: [], decodeTokPerS: [], error: (e as Error).message });
    }
    hooks.caseEnd?.();
  }
  model.dispose();
  return { loadMs, timings };
}
