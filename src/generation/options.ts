/** Generation options, and how they default from generation_config.json as transformers does. */
import type { Config } from "../loading/checkpoint.js";
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

function ids(v: unknown): number[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is number => Number.isInteger(x));
}

function pick<T>(given: T | undefined, gen: Config, key: string, fallback: T): T {
  if (given !== undefined) return given;
  const g = gen[key];
  return g === undefined || g === null ? fallback : (g as T);
}

export function resolveGenerateOptions(opts: GenerateOptions, generationConfig: Config | null, config: Config): ResolvedGenerateOptions {
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
    padTokenId: Number.isInteger(padGiven) ? padGiven! : (eosTokenIds[0] ?? 0),
  };
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 0) throw new Error(`generate: maxNewTokens must be a non-negative integer, got ${r.maxNewTokens}`);
  if (!Number.isInteger(r.minNewTokens) || r.minNewTokens < 0) throw new Error(`generate: minNewTokens must be a non-negative integer, got ${r.minNewTokens}`);
  if (r.doSample && !(r.temperature > 0)) throw new Error(`generate: temperature must be > 0 when sampling, got ${r.temperature}`);
  if (!Number.isInteger(r.topK) || r.topK < 0) throw new Error(`generate: topK must be a non-negative integer, got ${r.topK}`);
  if (!(r.topP > 0 && r.topP <= 1)) throw new Error(`generate: topP must be in (0, 1], got ${r.topP}`);
  if (!(r.repetitionPenalty > 0)) throw new Error(`generate: repetitionPenalty must be > 0, got ${r.repetitionPenalty}`);
  return r;
}
