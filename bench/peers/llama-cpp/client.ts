/**
 * The llama.cpp peer: a GGUF loaded by node-llama-cpp on the CPU (memory-mapped, no GPU layers, a
 * given thread count), measured the way bench/models/generate.ts measures moekit, and used as the
 * oracle of the GGUF tests (greedy ids, next-token log-probabilities, tokenization).
 *
 * node-llama-cpp exposes probabilities, not logits: with temperature 0 its sampler chain is greedy
 * alone, so the probabilities it returns are the softmax of the raw logits over the whole vocabulary
 * (AddonContext.cpp), in float32; the log of each is a log-probability (a probability that underflowed
 * to 0 is -Infinity).
 */
import { performance } from "node:perf_hooks";
import { cpuLlama, type ControlledInput, type LlamaContext, type LlamaContextSequence, type LlamaModel, type Token } from "./node-llama-cpp.js";

export interface OpenOptions {
  modelPath: string;
  threads: number;
  /** tokens per sequence (prompt + generated) */
  contextSize?: number;
  /** parallel sequences (prefill B×S runs B of them in one batch) */
  sequences?: number;
  /** tokens per llama_decode batch */
  batchSize?: number;
}

const GREEDY = { temperature: 0 } as const;

export class LlamaCppPeer {
  private constructor(
    readonly model: LlamaModel,
    readonly context: LlamaContext,
    readonly sequences: LlamaContextSequence[],
    readonly loadMs: number,
    readonly threads: number,
  ) {}

  static async open(opts: OpenOptions): Promise<LlamaCppPeer> {
    const llama = await cpuLlama();
    const t0 = performance.now();
    const model = await llama.loadModel({ modelPath: opts.modelPath, gpuLayers: 0, useMmap: true });
    const loadMs = performance.now() - t0;
    const n = opts.sequences ?? 1;
    const contextSize = opts.contextSize ?? 256;
    const context = await model.createContext({
      contextSize,
      sequences: n,
      batchSize: opts.batchSize ?? Math.max(512, contextSize),
      threads: { ideal: opts.threads, min: opts.threads },
    });
    const sequences = Array.from({ length: n }, () => context.getSequence());
    return new LlamaCppPeer(model, context, sequences, loadMs, opts.threads);
  }

  async close(): Promise<void> {
    for (const s of this.sequences) s.dispose();
    await this.context.dispose();
    await this.model.dispose();
  }

  /** Next-token log-probabilities after each prompt position in `positions` (default: the last), full vocabulary. */
  async logProbs(ids: readonly Token[], positions?: readonly number[], vocabSize?: number): Promise<Map<number, Float64Array>> {
    if (ids.length === 0) throw new Error("logProbs needs at least one token");
    const at = new Set(positions ?? [ids.length - 1]);
    const seq = this.sequences[0]!;
    await seq.clearHistory();
    const input: ControlledInput[] = ids.map((t, i) => (at.has(i) ? [t, { generateNext: { probabilities: true, options: GREEDY } }] : t));
    const out = await seq.controlledEvaluate(input);
    const result = new Map<number, Float64Array>();
    for (const i of at) {
      const probs = out[i]?.next.probabilities;
      if (!probs) throw new Error(`node-llama-cpp returned no probabilities at position ${i}`);
      const n = vocabSize ?? Math.max(...probs.keys()) + 1;
      const lp = new Float64Array(n).fill(-Infinity);
      for (const [tok, p] of probs) if (tok < n) lp[tok] = Math.log(p);
      result.set(i, lp);
    }
    return result;
  }

  /** Greedy continuation of `prompt` in sequence `s`: `newTokens` ids after the prompt's first one, each step timed. */
  async greedy(prompt: readonly Token[], newTokens: number, s = 0): Promise<{ ids: Token[]; prefillMs: number; stepMs: number[] }> {
    const seq = this.sequences[s]!;
    await seq.clearHistory();
    const t0 = performance.now();
    const first = await this.step(seq, prompt);
    const prefillMs = performance.now() - t0;
    const ids = [first];
    const stepMs: number[] = [];
    for (let i = 0; i < newTokens; i++) {
      const t = performance.now();
      ids.push(await this.step(seq, [ids[ids.length - 1]!]));
      stepMs.push(performance.now() - t);
    }
    return { ids, prefillMs, stepMs };
  }

  /** Evaluates `tokens` into `seq` and returns the greedy next token. */
  private async step(seq: LlamaContextSequence, tokens: readonly Token[]): Promise<Token> {
    const input: ControlledInput[] = tokens.map((t, i) => (i === tokens.length - 1 ? [t, { generateNext: { token: true, options: GREEDY } }] : t));
    const out = await seq.controlledEvaluate(input);
    const tok = out[tokens.length - 1]?.next.token;
    if (tok === undefined || tok === null) throw new Error("node-llama-cpp generated no token");
    return tok;
  }

  /** Prefill of B sequences of S tokens in one batch (B ≤ sequences): ms until every sequence has its first token. */
  async prefill(prompts: readonly (readonly Token[])[]): Promise<number> {
    if (prompts.length > this.sequences.length) throw new Error(`prefill of ${prompts.length} sequences on a context of ${this.sequences.length}`);
    await Promise.all(prompts.map((_, b) => this.sequences[b]!.clearHistory()));
    const t0 = performance.now();
    await Promise.all(prompts.map((p, b) => this.step(this.sequences[b]!, p)));
    return performance.now() - t0;
  }
}

/** `n` token ids drawn from [lo, hi) by a seeded generator (prompts of random ids, as moekit's benchmarks use). */
export function seededIds(n: number, lo: number, hi: number, seed: number): Token[] {
  let a = seed >>> 0;
  const out: Token[] = [];
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out.push(lo + Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo)));
  }
  return out;
}
