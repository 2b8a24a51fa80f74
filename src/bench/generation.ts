/**
 * Prefill and decode throughput of a whole model (bench/models/generate.ts): the model is loaded through
 * AutoModelForCausalLM.fromPretrained (a Checkpoint: the synthetic OLMoE-1B-7B by default, or a local
 * directory), then greedy generation over a seeded prompt of batch 1 is timed through the public
 * streaming API: the first step is the prefill (forward over the prompt, filling the KV cache, plus
 * picking the first token), then `newTokens` cached decode steps (as llama-bench's pp/tg: "tg32" is 32
 * decode forwards), so a run generates newTokens + 1 tokens. eos is disabled so every run is as long.
 *
 * After the timed runs, one more run is made with the backend ops timed (op-profile.ts) to show where
 * prefill and decode time goes; its totals are reported next to the untimed ones so the profiling
 * overhead is visible.
 */
import type { DType } from "../dtype.js";
import { bytesPerElement } from "../dtype.js";
import { lastAutoChoice } from "../experts/auto.js";
import { Checkpoint } from "../loading/checkpoint.js";
import { AutoModelForCausalLM } from "../pretrained/auto-model.js";
import type { MoeForCausalLM } from "../pretrained/moe-for-causal-lm.js";
import { numel, Tensor } from "../tensor.js";
import { resolveBackend, type BackendName } from "./backends.js";
import { castCheckpoint } from "./cast-checkpoint.js";
import { olmoeSynthetic } from "./olmoe-synthetic.js";
import { OpProfiler, type Breakdown } from "./op-profile.js";
import { seedOf } from "./random.js";
import { latencyStats } from "./stats.js";

export interface GenerationSpec {
  /** checkpoint directory; absent: the synthetic OLMoE-1B-7B */
  model?: string;
  /** decoder layers of the synthetic model (a checkpoint keeps its own) */
  layers: number;
  /** weights dtype; absent: bfloat16 for the synthetic model, the stored dtype of a checkpoint */
  dtype?: DType;
  impl: string;
  backend: BackendName;
  threads?: number;
  promptLen: number;
  /** decode steps timed per run (each a cached forward of one token), after the prefill's token */
  newTokens: number;
  /** timed generation runs (prefill: the median over runs; decode: the median step over all runs) */
  runs: number;
  /** untimed runs first (each with min(newTokens, 2) decode steps) */
  warmup: number;
  /** one extra run with every backend op timed */
  breakdown: boolean;
  seed: number;
}

export interface GenerationRecord {
  model: string;
  model_type: string;
  backend: string;
  threads: number | null;
  dtype: string;
  layers: number;
  implementation: string;
  /** for `auto`: what it ran at prefill and at decode */
  auto_choice: { prefill: string | null; decode: string | null } | null;
  batch_size: 1;
  prompt_len: number;
  new_tokens: number;
  runs: number;
  load_ms: number;
  /** median prefill latency over runs (forward over the prompt + picking the first token) */
  prefill_ms: number;
  prefill_ms_runs: number[];
  prefill_tokens_per_s: number;
  /** median decode-step latency over every step of every run */
  decode_ms_per_token: number;
  decode_ms_p90: number;
  /** decode steps / their total time, median over runs */
  decode_tokens_per_s: number;
  /** resident high-water mark of the process, MB (10^6 bytes) */
  peak_mem_mb: number;
  weights_mb: number;
  /** the profiled run (when asked): where prefill and decode time went */
  breakdown: { prefill: Breakdown; decode: Breakdown; decode_steps: number } | null;
}

export async function openGenerationSource(spec: Pick<GenerationSpec, "model" | "layers" | "dtype" | "seed">): Promise<Checkpoint> {
  if (!spec.model) return olmoeSynthetic(spec.layers, spec.dtype ?? "bfloat16", spec.seed);
  const ckpt = await Checkpoint.open(spec.model);
  return spec.dtype ? castCheckpoint(ckpt, spec.dtype) : ckpt;
}

/** A seeded prompt of `len` ids in [0, vocab) (an LCG, as the bench's model scope). */
export function seededPrompt(len: number, vocab: number, seed: number): Tensor {
  let s = seedOf("ids", seed);
  const ids = Int32Array.from({ length: len }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % vocab);
  return Tensor.from(ids, [1, len]);
}

interface RunTimes {
  prefillMs: number;
  stepsMs: number[];
  autoPrefill?: string;
  autoDecode?: string;
}

/** Prefill, then `decodeSteps` cached steps (decodeSteps + 1 new tokens). */
async function generateOnce(model: MoeForCausalLM, prompt: Tensor, decodeSteps: number, onPrefill?: () => void): Promise<RunTimes> {
  const stepsMs: number[] = [];
  let prefillMs = 0;
  let autoPrefill: string | undefined;
  let t = performance.now();
  let first = true;
  for await (const _ of model.stream(prompt, { maxNewTokens: decodeSteps + 1, doSample: false, eosTokenId: null })) {
    const now = performance.now();
    if (first) {
      prefillMs = now - t;
      autoPrefill = lastAutoChoice();
      onPrefill?.();
      first = false;
    } else {
      stepsMs.push(now - t);
    }
    t = performance.now();
  }
  return { prefillMs, stepsMs, autoPrefill, autoDecode: stepsMs.length > 0 ? lastAutoChoice() : undefined };
}

export async function measureGeneration(spec: GenerationSpec): Promise<GenerationRecord> {
  if (!(spec.promptLen >= 1 && spec.newTokens >= 1 && spec.runs >= 1)) throw new Error("generation bench: prompt length, new tokens and runs must be ≥ 1");
  const { backend: raw } = await resolveBackend(spec.backend, spec.threads);
  const profiler = new OpProfiler();
  const backend = profiler.wrap(raw);
  const ckpt = await openGenerationSource(spec);
  const t0 = performance.now();
  const model = await AutoModelForCausalLM.fromPretrained(ckpt, { backend, expertsImplementation: spec.impl });
  const loadMs = performance.now() - t0;
  if (spec.promptLen + spec.newTokens + 1 > model.maxPositions) {
    throw new Error(`generation bench: ${spec.promptLen} prompt + ${spec.newTokens + 1} new tokens exceed the model's context of ${model.maxPositions}`);
  }
  profiler.instrument(model);
  const prompt = seededPrompt(spec.promptLen, model.vocabSize, spec.seed);

  for (let i = 0; i < spec.warmup; i++) await generateOnce(model, prompt, Math.min(spec.newTokens, 2));
  const runs: RunTimes[] = [];
  for (let i = 0; i < spec.runs; i++) runs.push(await generateOnce(model, prompt, spec.newTokens));

  let breakdown: GenerationRecord["breakdown"] = null;
  if (spec.breakdown) {
    profiler.enabled = true;
    profiler.reset();
    let prefill: Breakdown | undefined;
    const r = await generateOnce(model, prompt, spec.newTokens, () => {
      prefill = profiler.snapshot();
      profiler.reset();
    });
    const decode = profiler.snapshot();
    profiler.enabled = false;
    breakdown = { prefill: prefill!, decode, decode_steps: r.stepsMs.length };
  }

  const prefills = runs.map((r) => r.prefillMs);
  const prefillMs = latencyStats(prefills).median;
  const steps = runs.flatMap((r) => r.stepsMs);
  const stepStats = latencyStats(steps);
  const decodeRates = runs.map((r) => (1000 * r.stepsMs.length) / r.stepsMs.reduce((a, b) => a + b, 0));
  const cfg = ckpt.config;
  const stored = ckpt.info(ckpt.keys().find((k) => k.endsWith("embed_tokens.weight")) ?? ckpt.keys()[0]!).stored;
  const dtype: DType = spec.dtype ?? (stored === "BF16" ? "bfloat16" : stored === "F16" ? "float16" : "float32");
  const weightBytes = ckpt.keys().reduce((a, k) => a + numel(ckpt.info(k).shape) * bytesPerElement(dtype), 0);
  const threads = (raw as { threads?: number }).threads;
  return {
    model: ckpt.name,
    model_type: String(cfg.model_type),
    backend: raw.name,
    threads: typeof threads === "number" ? threads : null,
    dtype,
    layers: model.numLayers,
    implementation: spec.impl,
    auto_choice: spec.impl === "auto" ? { prefill: runs[0]!.autoPrefill ?? null, decode: runs[0]!.autoDecode ?? null } : null,
    batch_size: 1,
    prompt_len: spec.promptLen,
    new_tokens: spec.newTokens,
    runs: spec.runs,
    load_ms: loadMs,
    prefill_ms: prefillMs,
    prefill_ms_runs: prefills,
    prefill_tokens_per_s: (1000 * spec.promptLen) / prefillMs,
    decode_ms_per_token: stepStats.median,
    decode_ms_p90: stepStats.p90,
    decode_tokens_per_s: latencyStats(decodeRates).median,
    peak_mem_mb: (process.resourceUsage().maxRSS * 1024) / 1e6,
    weights_mb: weightBytes / 1e6,
    breakdown,
  };
}
