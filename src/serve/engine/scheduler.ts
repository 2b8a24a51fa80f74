/**
 * Continuous batching: requests join and leave the running batch at token boundaries. Each iteration
 * runs ONE decode forward over every sequence that is decoding (rows of different cached lengths: the
 * ModelCache lines them up), then at most one prefill forward, so a long prompt is prefilled in chunks
 * interleaved with the decode steps of the others (only a prompt's last chunk computes logits). Outside
 * deterministic mode, prompts at the same point share the prefill forward. A sequence that is cancelled (client gone) or
 * times out leaves the cache before the next step. The KV cache has a byte budget: a request is
 * admitted only when its prompt plus its token limit fit beside what the running ones may still
 * grow to; otherwise it waits (and a full wait queue refuses new requests).
 *
 * Batch invariance (`deterministic`, the default): a sequence's tokens must not depend on what else
 * runs. Prefill chunks then never mix sequences (a prompt is always cut the same way: the cpu kernels a
 * product runs depend on its row count, e.g. token-vectorized from 16 rows of an expert), the experts
 * implementation is pinned (`auto` would switch kernels with the row count), and on the cpu backend
 * with float32 products the row count up to which products stream weights in place (GEMV) is raised
 * to cover every decode batch (a batch of 9 rows would otherwise take the packed GEMM path, which sums
 * in another order than a lone row's GEMV). What remains batch-dependent is measured in
 * bench/serve (docs/performance.md).
 */
import type { Config } from "../../loading/checkpoint.js";
import { chooseToken, isPlainGreedy, readLogits } from "../../generation/generate.js";
import { resolveGenerateOptions, type GenerateOptions } from "../../generation/options.js";
import { makeRng } from "../../generation/rng.js";
import { lastAutoChoice } from "../../experts/auto.js";
import type { ModelCache, ModelCacheOptions } from "../../models/cache/model-cache.js";
import type { SequenceId } from "../../models/cache/layer-spec.js";
import { Tensor } from "../../tensor.js";
import { Sequence, type GenerationResult } from "./sequence.js";

export type { FinishReason, GenerationResult } from "./sequence.js";

/** What the engine needs of a model (CausalLM has it). */
export interface EngineModel {
  readonly vocabSize: number;
  readonly maxPositions: number;
  readonly generationConfig: Config | null;
  readonly rawConfig: Config;
  /** (isHost and argmax: the greedy tokens of a decode step in one backend call, where it runs on the host.) */
  readonly backend: { readonly name: string; readonly isHost?: boolean; argmax?(x: Tensor): Tensor };
  newCache(opts?: ModelCacheOptions): ModelCache;
  /** `logits: false`: fill the cache only (logits come back empty). */
  forward(inputIds: Tensor, opts: { cache: ModelCache; sequences: readonly SequenceId[]; logitsToKeep: number; logits?: boolean; logitsInto?: Float32Array }): Promise<{ logits: Tensor }>;
  getExpertsImplementation?(): string;
  setExpertsImplementation?(name: string): void;
}

export interface EngineOptions {
  /** Most sequences running (decoding or prefilling) at once; default 16. */
  maxBatch?: number;
  /** Most requests waiting for a place; beyond, submit throws a QueueFullError. Default 64. */
  maxQueue?: number;
  /** Prompt tokens per prefill forward; default 64. */
  prefillChunk?: number;
  /** Bytes the KV caches may take; default: no limit. */
  cacheBudgetBytes?: number;
  /** Batch-invariant serving (see the module comment); default true. */
  deterministic?: boolean;
  /** Told of every forward (metrics). */
  onStep?: (step: StepInfo) => void;
  /** Told of every logits row a token is chosen from (diagnostics: near-tie checks); the row is valid during the call only (the next step overwrites it). */
  onLogits?: (serial: number, index: number, logits: Float32Array, token: number) => void;
}

export interface StepInfo {
  phase: "decode" | "prefill";
  /** Sequences in the forward. */
  rows: number;
  /** Tokens in the forward (rows × chunk). */
  tokens: number;
  ms: number;
  /** The experts implementation that ran (what `auto` picked, when it is auto). */
  implementation: string;
}

export interface SubmitOptions extends Pick<GenerateOptions, "maxNewTokens" | "minNewTokens" | "doSample" | "temperature" | "topK" | "topP" | "repetitionPenalty" | "seed" | "eosTokenId"> {
  /** Stops the sequence at the next step (a client that went away). */
  signal?: AbortSignal;
  /** From submit; the sequence ends with reason "timeout" after it. */
  timeoutMs?: number;
}

export interface Generation {
  /** Sequence number (order of submission). */
  readonly serial: number;
  /** The new tokens as they are chosen. */
  readonly tokens: AsyncIterable<number>;
  readonly done: Promise<GenerationResult>;
  /** Stop at the next step (finish reason "cancelled"). */
  cancel(): void;
}

export class QueueFullError extends Error {
  constructor(readonly limit: number) {
    super(`the server is busy: ${limit} requests are already waiting; retry later`);
  }
}

/** A request the engine can never run (prompt past the context, more cache than the budget, bad ids). */
export class RequestRejectedError extends Error {}

const nextTick: (f: () => void) => void = (globalThis as { setImmediate?: (f: () => void) => void }).setImmediate ?? ((f) => setTimeout(f, 0));

export class BatchEngine {
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly prefillChunk: number;
  readonly deterministic: boolean;
  readonly cache: ModelCache;
  private readonly waiting: Sequence[] = [];
  private readonly running: Sequence[] = [];
  private serial = 0;
  private looping = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private logitsBuf?: Float32Array;

  constructor(
    readonly model: EngineModel,
    private readonly opts: EngineOptions = {},
  ) {
    this.maxBatch = positiveInt(opts.maxBatch ?? 16, "maxBatch");
    this.maxQueue = nonNegativeInt(opts.maxQueue ?? 64, "maxQueue");
    this.prefillChunk = positiveInt(opts.prefillChunk ?? 64, "prefillChunk");
    this.deterministic = opts.deterministic ?? true;
    this.cache = model.newCache(opts.cacheBudgetBytes !== undefined ? { budgetBytes: opts.cacheBudgetBytes } : {});
    if (this.deterministic) pinForInvariance(model, this.maxBatch);
  }

  get queueDepth(): number {
    return this.waiting.length;
  }

  get activeSequences(): number {
    return this.running.length;
  }

  /** Queue a prompt; its tokens stream from the returned handle. Throws QueueFullError or RequestRejectedError at once. */
  submit(prompt: readonly number[], options: SubmitOptions = {}): Generation {
    if (this.closed) throw new RequestRejectedError("the engine is shut down");
    const m = this.model;
    if (!Array.isArray(prompt) || prompt.length === 0) throw new RequestRejectedError("the prompt has no tokens");
    const bad = prompt.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= m.vocabSize);
    if (bad >= 0) throw new RequestRejectedError(`prompt token ${bad} is ${String(prompt[bad])}, outside the model's vocabulary [0, ${m.vocabSize})`);
    if (prompt.length >= m.maxPositions) throw new RequestRejectedError(`the prompt has ${prompt.length} tokens; the model's context is ${m.maxPositions}`);
    let resolved;
    try {
      resolved = resolveGenerateOptions(options, m.generationConfig, m.rawConfig);
    } catch (e) {
      throw new RequestRejectedError((e as Error).message);
    }
    const limit = Math.min(resolved.maxNewTokens, m.maxPositions - prompt.length);
    const timeout = options.timeoutMs ?? Infinity;
    const s = new Sequence(this.serial++, prompt, resolved, limit, makeRng(resolved.seed), performance.now() + timeout);
    if (!this.fitsAlone(s)) {
      throw new RequestRejectedError(
        `the request needs ${s.reserve} tokens of KV cache (${this.cache.bytesPerToken * s.reserve} bytes), more than the cache budget of ${this.cache.budgetBytes} bytes; lower max_tokens or shorten the prompt`,
      );
    }
    if (this.waiting.length >= this.maxQueue) throw new QueueFullError(this.maxQueue);
    if (limit === 0) {
      s.finish("length");
    } else {
      this.waiting.push(s);
      options.signal?.addEventListener("abort", () => this.cancel(s, "cancelled"), { once: true });
      if (options.signal?.aborted) this.cancel(s, "cancelled");
      this.kick();
    }
    return { serial: s.serial, tokens: s.tokens, done: s.done, cancel: () => this.cancel(s, "cancelled") };
  }

  /** Resolves once nothing is waiting or running. */
  idle(): Promise<void> {
    if (!this.looping && this.waiting.length === 0 && this.running.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuse new requests, cancel every waiting and running one, and wait for the loop to stop. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.waiting, ...this.running]) this.cancel(s, "cancelled");
    this.kick();
    await this.idle();
  }

  private cancel(s: Sequence, why: "cancelled" | "timeout"): void {
    if (s.state === "done") return;
    s.cancelled ??= why;
    const w = this.waiting.indexOf(s);
    if (w >= 0) {
      this.waiting.splice(w, 1);
      s.finish(why);
    }
    // a running one leaves at the next step
  }

  private fitsAlone(s: Sequence): boolean {
    const c = this.cache;
    return s.reserve * c.bytesPerToken + c.bytesPerSequence <= c.budgetBytes;
  }

  private kick(): void {
    if (this.looping) return;
    this.looping = true;
    nextTick(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      while (this.waiting.length > 0 || this.running.length > 0) {
        this.reap();
        this.admit();
        const decoding = this.running.filter((s) => s.state === "decode");
        if (decoding.length > 0) await this.step("decode", decoding, 1);
        this.reap();
        const group = this.prefillGroup();
        if (group) await this.step("prefill", group.rows, group.chunk);
        // let the event loop run (new requests, disconnects, writes) between steps
        await new Promise<void>((r) => nextTick(r));
      }
    } finally {
      this.looping = false;
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  /**
   * One buffer for every step's logits (rows × vocabulary floats, 4.9 MB at 8 rows of a 151,936-token
   * vocabulary): a fresh array per step made the garbage collector run every few steps. A step's logits are
   * read before the next step starts.
   */
  private logitsBuffer(rows: number): Float32Array {
    const need = rows * this.model.vocabSize;
    if (!this.logitsBuf || this.logitsBuf.length < need) this.logitsBuf = new Float32Array(need);
    return this.logitsBuf;
  }

  /** Cancelled and timed-out sequences leave; their keys and values go with them. */
  private reap(): void {
    const now = performance.now();
    for (const s of [...this.waiting]) if (now > s.deadline) this.cancel(s, "timeout");
    for (const s of [...this.running]) {
      if (!s.cancelled && now > s.deadline) s.cancelled = "timeout";
      if (s.cancelled) this.retire(s, s.cancelled);
    }
  }

  private retire(s: Sequence, reason: Parameters<Sequence["finish"]>[0], error?: Error): void {
    const i = this.running.indexOf(s);
    if (i >= 0) this.running.splice(i, 1);
    if (s.cacheId !== undefined) this.cache.removeSequence(s.cacheId);
    s.cacheId = undefined;
    s.finish(reason, error);
  }

  /** Waiting requests join, oldest first, while there is a place and their reservation fits the budget. */
  private admit(): void {
    while (this.waiting.length > 0 && this.running.length < this.maxBatch) {
      const s = this.waiting[0]!;
      const outstanding = this.running.reduce((n, r) => n + (r.reserve - r.cached), 0);
      if (!this.cache.canReserve(outstanding + s.reserve, 1)) return;
      this.waiting.shift();
      s.cacheId = this.cache.addSequence();
      s.state = "prefill";
      this.running.push(s);
    }
  }

  /**
   * The next prefill forward: the oldest prefilling sequence's next chunk and, unless deterministic,
   * every other prefilling sequence at the same point of its prompt, all cut to the shortest of their
   * next chunks (rows of one length, no padding): requests that arrive together are prefilled in one
   * forward, which reads the weights once instead of once per request. Deterministic serving never
   * mixes prompts, as the row count decides which kernels a product runs.
   */
  private prefillGroup(): { rows: Sequence[]; chunk: number } | undefined {
    const first = this.running.find((s) => s.state === "prefill");
    if (!first) return undefined;
    const next = (s: Sequence) => Math.min(this.prefillChunk, s.prompt.length - s.prefilled);
    if (this.deterministic) return { rows: [first], chunk: next(first) };
    const rows = this.running.filter((s) => s.state === "prefill" && s.prefilled === first.prefilled);
    return { rows, chunk: Math.min(...rows.map(next)) };
  }

  private async step(phase: "decode" | "prefill", rows: Sequence[], chunk: number): Promise<void> {
    const ids = new Int32Array(rows.length * chunk);
    rows.forEach((s, i) => {
      if (phase === "decode") ids[i] = s.last;
      else ids.set(s.prompt.slice(s.prefilled, s.prefilled + chunk), i * chunk);
    });
    const t0 = performance.now();
    let values: Float32Array;
    try {
      // a prefill chunk that ends no prompt needs no logits (the lm head is the largest product)
      const wanted = phase === "decode" || rows.some((s) => s.prefilled + chunk >= s.prompt.length);
      const { logits } = await this.model.forward(Tensor.from(ids, [rows.length, chunk]), {
        cache: this.cache,
        sequences: rows.map((s) => s.cacheId!),
        logitsToKeep: 1,
        ...(wanted ? { logitsInto: this.logitsBuffer(rows.length) } : { logits: false }),
      });
      values = await readLogits(logits);
    } catch (e) {
      // the step did not commit: these sequences fail, the others go on
      for (const s of rows) this.retire(s, "error", e as Error);
      return;
    }
    const ms = performance.now() - t0;
    const impl = this.model.getExpertsImplementation?.() ?? "none";
    this.opts.onStep?.({ phase, rows: rows.length, tokens: rows.length * chunk, ms, implementation: impl === "auto" ? (lastAutoChoice() ?? "auto") : impl });
    const v = this.model.vocabSize;
    const greedy = phase === "decode" && rows.some((s) => !s.cancelled && isPlainGreedy(s.options, s.generated)) ? this.greedyTokens(values, rows.length) : undefined;
    rows.forEach((s, i) => {
      if (phase === "prefill") {
        s.prefilled += chunk;
        if (s.prefilled < s.prompt.length) return;
        s.state = "decode";
      }
      if (s.cancelled) return;
      this.emit(s, values.subarray(i * v, (i + 1) * v), greedy?.[i]);
    });
  }

  /**
   * Every row's argmax in one call of a host backend's op (the cpu backend's is native: a JavaScript loop
   * over a 151,936-word vocabulary takes ~0.13 ms a row); undefined elsewhere. Same choice as chooseToken's.
   */
  private greedyTokens(values: Float32Array, rows: number): Int32Array | undefined {
    const b = this.model.backend;
    if (!b.isHost || !b.argmax) return undefined;
    const v = this.model.vocabSize;
    return b.argmax(Tensor.from(values.subarray(0, rows * v), [rows, v])).hostStorage() as Int32Array;
  }

  private emit(s: Sequence, logits: Float32Array, greedy: number | undefined): void {
    const r = s.options;
    const token = greedy !== undefined && isPlainGreedy(r, s.generated) ? greedy : chooseToken(logits, s.history, s.generated, r, s.rng);
    this.opts.onLogits?.(s.serial, s.generated, logits, token);
    s.history.push(token);
    s.generated++;
    s.last = token;
    s.firstTokenAt ??= performance.now();
    s.tokens.push(token);
    if (r.eosTokenIds.includes(token)) this.retire(s, "eos");
    else if (s.generated >= s.limit) this.retire(s, "length");
  }
}

/**
 * Kernel choices that would make a row's result depend on the rows beside it are fixed: `auto` is
 * replaced by grouped_mm, and a cpu backend with float32 products streams weights in place (GEMV) up to
 * the largest decode batch (the native pool's setting is process-wide).
 */
function pinForInvariance(model: EngineModel, maxBatch: number): void {
  if (model.getExpertsImplementation?.() === "auto") model.setExpertsImplementation?.("grouped_mm");
  const b = model.backend as { name: string; compute?: string; native?: { setGemvMaxRows?: (rows: number) => void } };
  if (b.name === "cpu" && b.compute === "float32" && typeof b.native?.setGemvMaxRows === "function") b.native.setGemvMaxRows(Math.min(64, Math.max(8, maxBatch)));
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${String(v)}`);
  return v;
}

function nonNegativeInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${String(v)}`);
  return v;
}
