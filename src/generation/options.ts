/** Generation options, and how they default from generation_config.json as transformers does. */
import type { Config } from "../loading/checkpoint.js";
import { checkKvCacheDtype, type KvCacheDtype } from "../models/cache/kv-dtype.js";
import type { Tensor } from "../tensor.js";

export interface GenerateOptions {
  /** New tokens to produce at most (default: generation_config max_new_tokens, else 20). */
  maxNewTokens?: number;
  /** eos is suppressed until this many new tokens exist. */
  minNewTokens?: number;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  /** Seed of the sampling PRNG (unseeded: Math.random). */
  seed?: number;
  /** Stop ids; null disables stopping on eos. Default: generation_config / config eos_token_id. */
  eosTokenId?: number | number[] | null;
  /** Fills finished rows (default: pad_token_id, else the first eos id). */
  padTokenId?: number;
  /** int32 [B, S], 0 for (left) padding. */
  attentionMask?: Tensor;
  /** Called with each step's tokens [B] (finished rows carry the pad id). */
  onToken?: (tokens: Int32Array, step: number) => void | Promise<void>;
  /**
   * Stops generation at the next token boundary once aborted: `stream` ends and `generate` returns the
   * tokens made so far (check `signal.aborted` to tell a stop from a finished run); the cache is dropped.
   */
  signal?: AbortSignal;
  /**
   * Format of the KV cache on host backends (cpu, reference): "float32" (default; exact), "bfloat16" or
   * "float16" (half the cache memory and half the bytes decode reads per token, which is what decode at
   * long context spends its time on; logits move by the rounding of keys and values). Device backends
   * (webgpu) keep a float32 cache.
   */
  kvCacheDtype?: KvCacheDtype;
}

export interface ResolvedGenerateOptions {
  maxNewTokens: number;
  minNewTokens: number;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  seed?: number;
  eosTokenIds: number[];
  padTokenId: number;
}

/** Every given option checked up front, with a message naming it (generation_config values are trusted less strictly: see below). */
function checkGiven(opts: GenerateOptions, vocabSize: number | undefined): void {
  const int = (name: keyof GenerateOptions, min: number) => {
    const v = opts[name];
    if (v !== undefined && (typeof v !== "number" || !Number.isSafeInteger(v) || v < min)) throw new Error(`generate: ${name} must be an integer ≥ ${min}, got ${show(v)}`);
  };
  const positive = (name: keyof GenerateOptions) => {
    const v = opts[name];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v) || v <= 0)) throw new Error(`generate: ${name} must be a finite number > 0, got ${show(v)}`);
  };
  int("maxNewTokens", 0);
  int("minNewTokens", 0);
  int("topK", 0);
  int("seed", 0);
  positive("temperature");
  positive("repetitionPenalty");
  if (opts.topP !== undefined && (typeof opts.topP !== "number" || !(opts.topP > 0 && opts.topP <= 1))) throw new Error(`generate: topP must be in (0, 1], got ${show(opts.topP)}`);
  if (opts.doSample !== undefined && typeof opts.doSample !== "boolean") throw new Error(`generate: doSample must be true or false, got ${show(opts.doSample)}`);
  if (opts.kvCacheDtype !== undefined) checkKvCacheDtype(opts.kvCacheDtype, "generate");
  if (opts.onToken !== undefined && typeof opts.onToken !== "function") throw new Error(`generate: onToken must be a function, got ${show(opts.onToken)}`);
  const tokenId = (name: string, v: unknown) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || (vocabSize !== undefined && v >= vocabSize)) {
      throw new Error(`generate: ${name} must be a token id in [0, ${vocabSize ?? "vocab_size"}), got ${show(v)}`);
    }
  };
  if (opts.padTokenId !== undefined) tokenId("padTokenId", opts.padTokenId);
  const eos = opts.eosTokenId;
  if (eos !== undefined && eos !== null) {
    if (Array.isArray(eos)) eos.forEach((x, i) => tokenId(`eosTokenId[${i}]`, x));
    else tokenId("eosTokenId", eos);
  }
}

function show(v: unknown): string {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return JSON.stringify(v.slice(0, 40));
  if (Array.isArray(v)) return "a list";
  return v === null ? "null" : typeof v;
}

function ids(v: unknown): number[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is number => Number.isInteger(x));
}

function pick<T>(given: T | undefined, gen: Config, key: string, fallback: T): T {
  if (given !== undefined) return given;
  const g = gen[key];
  return g === undefined || g === null ? fallback : (g as T);
}

/**
 * The options with generation_config.json's defaults filled in, validated. `vocabSize` bounds the pad and
 * eos ids (a pad id outside the vocabulary would fail halfway through a batch).
 */
export function resolveGenerateOptions(opts: GenerateOptions, generationConfig: Config | null, config: Config, vocabSize?: number): ResolvedGenerateOptions {
  checkGiven(opts, vocabSize);
  const gen = generationConfig ?? {};
  const eosTokenIds = opts.eosTokenId === null ? [] : opts.eosTokenId !== undefined ? ids(opts.eosTokenId) : ids(gen.eos_token_id ?? config.eos_token_id);
  const padGiven = opts.padTokenId ?? (gen.pad_token_id as number | undefined) ?? (config.pad_token_id as number | undefined);
  const r: ResolvedGenerateOptions = {
    maxNewTokens: pick(opts.maxNewTokens, gen, "max_new_tokens", 20),
    minNewTokens: pick(opts.minNewTokens, gen, "min_new_tokens", 0),
    doSample: pick(opts.doSample, gen, "do_sample", false),
    temperature: pick(opts.temperature, gen, "temperature", 1),
    topK: pick(opts.topK, gen, "top_k", 50),
    topP: pick(opts.topP, gen, "top_p", 1),
    repetitionPenalty: pick(opts.repetitionPenalty, gen, "repetition_penalty", 1),
    seed: opts.seed,
    eosTokenIds,
    padTokenId: Number.isInteger(padGiven) && (vocabSize === undefined || (padGiven! >= 0 && padGiven! < vocabSize)) ? padGiven! : (eosTokenIds[0] ?? 0),
  };
  // Values from generation_config.json: the same rules, named as its fields.
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 0) throw new Error(`generate: max_new_tokens must be a non-negative integer, got ${show(r.maxNewTokens)}`);
  if (!Number.isInteger(r.minNewTokens) || r.minNewTokens < 0) throw new Error(`generate: min_new_tokens must be a non-negative integer, got ${show(r.minNewTokens)}`);
  if (typeof r.doSample !== "boolean") throw new Error(`generate: do_sample must be true or false, got ${show(r.doSample)}`);
  if (r.doSample && !(typeof r.temperature === "number" && r.temperature > 0 && Number.isFinite(r.temperature))) throw new Error(`generate: temperature must be > 0 when sampling, got ${show(r.temperature)}`);
  if (!Number.isInteger(r.topK) || r.topK < 0) throw new Error(`generate: top_k must be a non-negative integer, got ${show(r.topK)}`);
  if (!(typeof r.topP === "number" && r.topP > 0 && r.topP <= 1)) throw new Error(`generate: top_p must be in (0, 1], got ${show(r.topP)}`);
  if (!(typeof r.repetitionPenalty === "number" && r.repetitionPenalty > 0 && Number.isFinite(r.repetitionPenalty))) throw new Error(`generate: repetition_penalty must be > 0, got ${show(r.repetitionPenalty)}`);
  return r;
}
