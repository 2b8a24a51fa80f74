/** One request's life in the batching engine: its prompt, its sampling state, its place in the cache. */
import type { ResolvedGenerateOptions } from "../../generation/options.js";
import type { Rng } from "../../generation/rng.js";
import type { SequenceId } from "../../models/cache/layer-spec.js";
import { TokenQueue } from "./token-queue.js";

/** Why a sequence ended: an eos token, its token limit (or the context's), a cancel / abort, its timeout, or an error. */
export type FinishReason = "eos" | "length" | "cancelled" | "timeout" | "error";

export interface GenerationResult {
  reason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** When the reason is "error": what went wrong. */
  error?: Error;
  /** Milliseconds from submit to the first token (undefined when none came). */
  firstTokenMs?: number;
}

export type SequenceState = "waiting" | "prefill" | "decode" | "done";

export class Sequence {
  state: SequenceState = "waiting";
  cacheId?: SequenceId;
  /** Prompt tokens already in the cache. */
  prefilled = 0;
  /** Prompt then generated tokens (the repetition penalty reads them). */
  readonly history: number[];
  generated = 0;
  /** The token the next decode step feeds. */
  last = -1;
  /** Tokens this sequence may come to hold in the cache (prompt + its token limit): reserved at admission. */
  readonly reserve: number;
  cancelled: "cancelled" | "timeout" | undefined;
  readonly tokens = new TokenQueue<number>();
  readonly done: Promise<GenerationResult>;
  readonly submittedAt = performance.now();
  firstTokenAt?: number;
  private resolveDone!: (r: GenerationResult) => void;

  constructor(
    readonly serial: number,
    readonly prompt: readonly number[],
    readonly options: ResolvedGenerateOptions,
    readonly limit: number,
    readonly rng: Rng,
    readonly deadline: number,
  ) {
    this.history = [...prompt];
    this.reserve = prompt.length + limit;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Tokens the cache holds for it now. */
  get cached(): number {
    return this.prefilled + Math.max(0, this.generated - 1);
  }

  finish(reason: FinishReason, error?: Error): void {
    if (this.state === "done") return;
    this.state = "done";
    this.tokens.end();
    this.resolveDone({
      reason,
      promptTokens: this.prompt.length,
      completionTokens: this.generated,
      ...(error ? { error } : {}),
      ...(this.firstTokenAt !== undefined ? { firstTokenMs: this.firstTokenAt - this.submittedAt } : {}),
    });
  }
}
