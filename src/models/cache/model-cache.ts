/**
 * The cache of one model: per sequence (each with its own length; sequences join and leave, as a
 * server's continuous batching needs), per layer kind (growing keys / values for attention layers, a
 * fixed-size state for recurrent or convolution layers), within an optional memory budget.
 *
 * A forward call takes a `CacheStep` (`begin`), the layers append through it, and `commit` advances
 * the sequences once every layer ran. `canReserve` tells a scheduler whether more tokens fit.
 */
import type { Backend } from "../../backends/backend.js";
import type { Tensor } from "../../tensor.js";
import { hostRowsFit, HostRows } from "./host-rows.js";
import { checkKvCacheDtype, kvBytesPerValue, type KvCacheDtype } from "./kv-dtype.js";
import type { KvStore } from "./kv-store.js";
import { bytesPerSequence, bytesPerToken, checkLayerSpec, formatBytes, type CacheLayerSpec, type SequenceId } from "./layer-spec.js";
import { StateSlots } from "./state-slots.js";
import { CacheStep, type StepStores } from "./step.js";
import { TensorGroups } from "./tensor-groups.js";

export interface ModelCacheOptions {
  /** Most bytes the sequences' keys, values and states may take; going beyond throws. Default: no limit. */
  budgetBytes?: number;
  /**
   * Format of the keys and values a host backend (cpu, reference) keeps: "float32" (default, exact), or
   * "bfloat16" / "float16" (half the memory and half the bytes decode reads per token; rounded to nearest
   * even when appended). Device caches (webgpu) keep float32 tensors whatever this says.
   */
  kvCacheDtype?: KvCacheDtype;
}

interface Sequence {
  length: number;
  /** 1 per token, 0 per padding token; absent while the sequence holds no padding. */
  mask?: number[];
}

export class ModelCache {
  readonly layers: readonly CacheLayerSpec[];
  readonly budgetBytes: number;
  /** Bytes each token of a sequence takes (keys and values of every attention layer, in kvCacheDtype). */
  readonly bytesPerToken: number;
  /** Format of the keys and values held in host rows. */
  readonly kvCacheDtype: KvCacheDtype;
  /** Bytes each sequence takes whatever its length (state slots). */
  readonly bytesPerSequence: number;
  private readonly seqs = new Map<SequenceId, Sequence>();
  private nextId = 0;
  private readonly kv: (KvStore | undefined)[];
  private readonly states: (StateSlots | undefined)[];
  /** The step whose commit is still valid (a newer begin or a sequence leaving makes older ones stale). */
  private current?: CacheStep;

  constructor(layers: readonly CacheLayerSpec[], opts: ModelCacheOptions = {}) {
    if (!Array.isArray(layers)) throw new Error(`cache: layers must be a list of layer specs, got ${JSON.stringify(layers)}`);
    layers.forEach(checkLayerSpec);
    const budget = opts.budgetBytes ?? Infinity;
    if (!(budget > 0)) throw new Error(`cache: budgetBytes must be a positive number of bytes, got ${JSON.stringify(opts.budgetBytes)}`);
    this.layers = [...layers];
    this.budgetBytes = budget;
    this.kvCacheDtype = opts.kvCacheDtype === undefined ? "float32" : checkKvCacheDtype(opts.kvCacheDtype, "cache");
    this.bytesPerToken = bytesPerToken(layers, kvBytesPerValue(this.kvCacheDtype));
    this.bytesPerSequence = bytesPerSequence(layers);
    this.kv = layers.map(() => undefined);
    this.states = layers.map((l, i) => (l.kind === "state" ? new StateSlots(i, l.shape) : undefined));
  }

  get numLayers(): number {
    return this.layers.length;
  }

  /** The live sequences, in the order they joined. */
  get sequences(): SequenceId[] {
    return [...this.seqs.keys()];
  }

  /** Tokens of the longest sequence (of every sequence when they step together); 0 when empty. */
  get length(): number {
    let n = 0;
    for (const s of this.seqs.values()) n = Math.max(n, s.length);
    return n;
  }

  lengthOf(id: SequenceId): number {
    return this.sequence(id).length;
  }

  get bytesInUse(): number {
    let tokens = 0;
    for (const s of this.seqs.values()) tokens += s.length;
    return tokens * this.bytesPerToken + this.seqs.size * this.bytesPerSequence;
  }

  /** Whether `tokens` more tokens (over all sequences) and `newSequences` more sequences fit the budget. */
  canReserve(tokens: number, newSequences = 0): boolean {
    if (!Number.isInteger(tokens) || tokens < 0 || !Number.isInteger(newSequences) || newSequences < 0) {
      throw new Error(`cache: canReserve takes counts of tokens and sequences (non-negative integers), got ${tokens}, ${newSequences}`);
    }
    return this.bytesInUse + tokens * this.bytesPerToken + newSequences * this.bytesPerSequence <= this.budgetBytes;
  }

  /** A new, empty sequence. */
  addSequence(): SequenceId {
    this.reserve(0, 1, "adding a sequence");
    const id = this.nextId++;
    this.seqs.set(id, { length: 0 });
    return id;
  }

  /** A sequence leaves: its keys, values and states are dropped from every layer. */
  removeSequence(id: SequenceId): void {
    this.sequence(id);
    this.seqs.delete(id);
    for (const s of this.kv) s?.drop(id);
    for (const s of this.states) s?.drop(id);
    this.current = undefined;
  }

  /**
   * Start a forward call over `batch` rows of `tokens` new tokens each. The rows are `sequences`, or
   * by default every live sequence (an empty cache first gets `batch` new ones).
   */
  begin(batch: number, tokens: number, sequences?: readonly SequenceId[]): CacheStep {
    let ids = sequences;
    if (ids === undefined) {
      if (this.seqs.size === 0) for (let i = 0; i < batch; i++) this.addSequence();
      ids = this.sequences;
    }
    if (!Array.isArray(ids)) throw new Error(`forward: sequences must be a list of the cache's sequence ids, got ${JSON.stringify(ids)}`);
    if (ids.length !== batch) {
      throw new Error(`forward: inputIds has ${batch} row(s) but ${sequences ? "sequences names" : "the cache holds"} ${ids.length} sequence(s)${sequences ? "" : "; name the rows' sequences with `sequences`"}`);
    }
    if (new Set(ids).size !== ids.length) throw new Error(`forward: sequences names a sequence twice: ${ids.join(", ")}`);
    const pasts = ids.map((id) => this.sequence(id).length);
    this.reserve(batch * tokens, 0, `appending ${tokens} token(s) to ${batch} sequence(s)`);
    const step = new CacheStep([...ids], pasts, tokens, this.stores());
    this.current = step;
    return step;
  }

  private sequence(id: SequenceId): Sequence {
    const s = this.seqs.get(id);
    if (!s) throw new Error(`cache: no sequence ${String(id)} (live: ${this.sequences.join(", ") || "none"})`);
    return s;
  }

  private reserve(tokens: number, newSequences: number, what: string): void {
    if (this.canReserve(tokens, newSequences)) return;
    const need = tokens * this.bytesPerToken + newSequences * this.bytesPerSequence;
    throw new Error(
      `cache budget exceeded: ${what} needs ${formatBytes(need)}, but only ${formatBytes(Math.max(0, this.budgetBytes - this.bytesInUse))} of the ` +
        `${formatBytes(this.budgetBytes)} budget is free (${formatBytes(this.bytesInUse)} held by ${this.seqs.size} sequence(s)); remove a sequence or raise budgetBytes`,
    );
  }

  private stores(): StepStores {
    return {
      kv: (layer, b, k, v) => this.kvStore(layer, b, k, v),
      state: (layer) => {
        const s = this.states[layer];
        if (!s) throw new Error(`cache: layer ${layer} is ${this.describe(layer)}, not a state layer`);
        return s;
      },
      maskOf: (id) => this.seqs.get(id)?.mask,
      commit: (step, masks, states) => this.commit(step, masks, states),
    };
  }

  private kvStore(layer: number, b: Backend, k: Tensor, v: Tensor): KvStore {
    const spec = this.layers[layer];
    if (spec?.kind !== "attention") throw new Error(`cache: layer ${layer} is ${this.describe(layer)}, not an attention layer`);
    const kw = k.shape[2]! * k.shape[3]!;
    const vw = v.shape[2]! * v.shape[3]!;
    if (kw !== spec.keyWidth || vw !== spec.valueWidth) {
      throw new Error(`KV cache: layer ${layer} keeps keys of width ${spec.keyWidth} and values of width ${spec.valueWidth} per token, got ${kw} and ${vw}`);
    }
    let store = this.kv[layer];
    if (!store) {
      store = hostRowsFit(b, k, v) ? new HostRows(b, layer, this.kvCacheDtype) : new TensorGroups(b, layer);
      this.kv[layer] = store;
    }
    return store;
  }

  private describe(layer: number): string {
    const spec = this.layers[layer];
    if (!spec) return `outside the cache's ${this.layers.length} layers`;
    return spec.kind === "attention" ? "an attention layer" : "a state layer";
  }

  private commit(step: CacheStep, masks: (readonly number[] | undefined)[], states: Map<number, Map<SequenceId, Tensor>>): void {
    if (step !== this.current) throw new Error("cache: this call's step is stale (another call began, or a sequence left, since it began)");
    this.current = undefined;
    step.sequences.forEach((id, i) => {
      const s = this.sequence(id);
      const m = masks[i];
      if (m || s.mask) s.mask = [...(s.mask ?? new Array<number>(s.length).fill(1)), ...(m ?? new Array<number>(step.tokens).fill(1))];
      s.length += step.tokens;
    });
    for (const [layer, updates] of states) this.states[layer]!.set(updates);
  }
}
