/**
 * A whole MoE causal language model: embeddings → decoder layers → final norm → lm_head. Forward with
 * an optional cache and attention mask; experts implementation switching at run time (every MoE block
 * resolves its implementation by name on each call). Generation (src/generation) drives this class and
 * src/pretrained adds it as methods; models never import generation.
 */
import type { Backend } from "../backends/backend.js";
import type { ExpertsInterface } from "../experts/registry.js";
import type { ExpertCache } from "../experts/residency.js";
import type { Config } from "../loading/checkpoint.js";
import { shapeString, Tensor } from "../tensor.js";
import type { AttentionContext } from "./layers/attention-context.js";
import type { DecoderLayer } from "./layers/decoder-layer.js";
import type { FamilyDefinition } from "./config/family.js";
import type { SequenceId } from "./cache/layer-spec.js";
import { checkKvCacheDtype, type KvCacheDtype } from "./cache/kv-dtype.js";
import { ModelCache, type ModelCacheOptions } from "./cache/model-cache.js";
import type { Linear } from "./layers/linear.js";
import type { ModelConfig } from "./config/model-config.js";
import { SparseMoeBlock } from "./layers/moe-block.js";
import type { Norm } from "./layers/norm.js";
import { callPositions } from "./positions.js";
import type { RotaryEmbedding } from "./layers/rope.js";

/** One name for the whole model, or a map keyed by sub-model ("" = the text model), as transformers takes. */
export type ExpertsImplementationSetting = string | Record<string, string>;

export interface ForwardOptions {
  /**
   * int32 [B, cached + S], 0 for padding (with a cache, its sequences must hold one length). Without
   * it, a cache pads ragged sequences itself and remembers the padding of earlier calls.
   */
  attentionMask?: Tensor;
  cache?: ModelCache;
  /** The cache's sequences that inputIds' rows continue (default: all of them, in the order they joined). */
  sequences?: readonly SequenceId[];
  /** Only the last n positions' logits (generation needs 1). */
  logitsToKeep?: number;
  /**
   * false: fill the cache only, no final norm and lm head (a prompt chunk whose logits nobody reads: the
   * lm head reads its whole weight even for one row); logits come back empty, [B, 0, V]. Default true.
   */
  logits?: boolean;
  /**
   * Host backends: floats the logits are written into (the first B · kept positions · V of them) and returned as a
   * view of — a generation or serving loop that reuses one buffer saves allocating rows × vocabulary floats per
   * step. The previous step's logits are then overwritten.
   */
  logitsInto?: Float32Array;
}

export interface CausalLMParts {
  family: FamilyDefinition;
  config: ModelConfig;
  rawConfig: Config;
  generationConfig: Config | null;
  backend: Backend;
  registry: ExpertsInterface;
  embedTokens: Tensor;
  layers: DecoderLayer[];
  norm: Norm;
  lmHead: Linear;
  rotary: RotaryEmbedding;
  multipliers: { embedding: number; residual: number; logitsDivisor: number };
  unusedKeys: string[];
  /** The expert cache when the model was loaded with maxResidentBytes. */
  expertCache?: ExpertCache;
  /** Format of new KV caches unless a call names one (default float32). */
  kvCacheDtype?: KvCacheDtype;
}

export class CausalLM {
  readonly config: ModelConfig;
  readonly backend: Backend;
  /** Checkpoint tensors the model does not use (MTP layers, buffers, ...). */
  readonly unusedKeys: readonly string[];

  private held: CausalLMParts | null;
  /** Forward calls running (between their start and their settling). */
  private inFlight = 0;
  /** dispose() called while forwards ran: the weights they read are freed when the last one settles. */
  private pendingRelease: CausalLMParts | null = null;

  constructor(parts: CausalLMParts) {
    this.held = parts;
    this.config = parts.config;
    this.backend = parts.backend;
    this.unusedKeys = parts.unusedKeys;
  }

  /** The weights and layers; gone after `dispose()`. */
  get parts(): CausalLMParts {
    if (!this.held) throw new Error(`the ${this.config.modelType} model was disposed (dispose() frees its weights); load it again to use it`);
    return this.held;
  }

  get disposed(): boolean {
    return this.held === null;
  }

  /**
   * Frees the weights: device buffers through the backend (webgpu), host memory by dropping every
   * reference the model holds (collected once nothing else holds them). The model is unusable after
   * (new calls reject, naming dispose); a second call does nothing. Forward calls already running (a
   * generate loop between its steps' awaits) finish on the weights they started with, which are freed
   * when the last of them settles, so no kernel ever reads freed or unmapped memory.
   */
  dispose(): void {
    const parts = this.held;
    if (!parts) return;
    this.held = null;
    if (this.inFlight > 0) this.pendingRelease = parts;
    else this.release(parts);
  }

  /** Frees what the parts hold (dispose(), once no forward is running). */
  protected release(parts: CausalLMParts): void {
    // each tensor through its own backend: a placement keeps the routed experts on another one
    for (const t of tensorsOf([parts.embedTokens, parts.layers, parts.norm, parts.lmHead, parts.rotary])) t.backend?.dispose?.(t);
  }

  get modelType(): string {
    return this.config.modelType;
  }
  get vocabSize(): number {
    return this.config.vocabSize;
  }
  get maxPositions(): number {
    return this.config.maxPositions;
  }
  get numLayers(): number {
    return this.config.numLayers;
  }
  get generationConfig(): Config | null {
    return this.parts.generationConfig;
  }
  /** config.json as read (generation defaults such as eos_token_id come from it). */
  get rawConfig(): Config {
    return this.parts.rawConfig;
  }

  /** The MoE blocks, in layer order. */
  moeBlocks(): SparseMoeBlock[] {
    return this.parts.layers.flatMap((l) => (l.ffn.kind === "moe" ? [l.ffn.block] : []));
  }

  /**
   * Runs every shared expert that joined the routed experts' pass apart again (its own products, gate and add),
   * e.g. to compare the two; returns how many blocks changed.
   */
  runSharedExpertsApart(): number {
    let n = 0;
    for (const layer of this.parts.layers) {
      if (layer.ffn.kind !== "moe" || !layer.ffn.block.sharedFused) continue;
      const b = layer.ffn.block;
      layer.ffn.block = new SparseMoeBlock(b.router, b.experts, b.shared, b.backend, { expertsBackend: b.expertsBackend, call: b.call, outputBias: b.outputBias, sharedInExperts: false });
      n++;
    }
    return n;
  }

  /** Switch every MoE block's experts implementation; validated before anything changes. */
  setExpertsImplementation(setting: ExpertsImplementationSetting): void {
    const name = resolveExpertsSetting(setting);
    this.parts.registry.validate(name);
    for (const block of this.moeBlocks()) block.experts.implementation = name;
  }

  getExpertsImplementation(): string {
    const blocks = this.moeBlocks();
    return blocks.length > 0 ? blocks[0]!.experts.implementation : "eager";
  }

  /**
   * An empty cache for this model's layers (`budgetBytes` bounds what it may hold; `kvCacheDtype` the
   * format of host keys and values: a device backend's cache stays float32 and is accounted as such).
   */
  newCache(opts: ModelCacheOptions = {}): ModelCache {
    const kvCacheDtype = this.backend.isHost ? (opts.kvCacheDtype ?? this.kvCacheDtype) : "float32";
    return new ModelCache(
      this.parts.layers.map((l) => l.mixer.cacheSpec()),
      { ...opts, kvCacheDtype },
    );
  }

  /** Format of the KV caches `newCache` (and generation) make unless told otherwise (see LoadModelOptions.kvCacheDtype). */
  get kvCacheDtype(): KvCacheDtype {
    return this.parts.kvCacheDtype ?? "float32";
  }

  set kvCacheDtype(dtype: KvCacheDtype) {
    this.parts.kvCacheDtype = checkKvCacheDtype(dtype, "kvCacheDtype");
  }

  /** inputIds int32 [B, S] → { logits [B, S, V] } (or [B, logitsToKeep, V]). */
  async forward(inputIds: Tensor, opts: ForwardOptions = {}): Promise<{ logits: Tensor }> {
    const parts = this.parts;
    this.inFlight++;
    try {
      const b = this.backend;
      if (b.forwardScope) return await b.forwardScope(() => this.run(parts, inputIds, opts), (r) => [r.logits]);
      return await this.run(parts, inputIds, opts);
    } finally {
      if (--this.inFlight === 0 && this.pendingRelease) {
        const held = this.pendingRelease;
        this.pendingRelease = null;
        this.release(held);
      }
    }
  }

  private async run(parts: CausalLMParts, inputIds: Tensor, opts: ForwardOptions): Promise<{ logits: Tensor }> {
    const b = this.backend;
    const cfg = this.config;
    checkForwardArgs(inputIds, opts);
    const [batch, seq] = inputIds.shape as [number, number];
    await checkVocabulary(inputIds, cfg.vocabSize);
    const step = opts.cache?.begin(batch, seq, opts.sequences);
    const past = step?.past ?? 0;
    if (past + seq > cfg.maxPositions) {
      throw new Error(`forward: ${past + seq} tokens (${past} cached + ${seq} new) exceed the model's context of ${cfg.maxPositions} (max_position_embeddings)`);
    }
    const mask = step ? await step.keyMask(opts.attentionMask) : opts.attentionMask;
    const pos = await callPositions(batch, seq, past, mask);
    const { cos, sin } = parts.rotary.tables(pos.positions);
    const half = parts.rotary.dim / 2;
    const ctx: AttentionContext = {
      cos: b.fromHost(cos, [batch * seq, half], "float32"),
      sin: b.fromHost(sin, [batch * seq, half], "float32"),
      keyMask: pos.keyMask ? b.fromHost(pos.keyMask, [batch, past + seq], "int32") : undefined,
      tokenMask: newTokenMask(b, pos.keyMask, batch, past, seq),
      keyMaskHost: pos.keyMask,
      positions: pos.positions,
      pastLength: past,
      cache: step,
    };
    const m = parts.multipliers;
    let h = b.embedding(parts.embedTokens, b.adopt(inputIds));
    if (m.embedding !== 1) h = b.scale(h, m.embedding);
    // positions whose hidden states are read after the last layer: its feed-forward runs on those alone
    // (logitsToKeep 0 or absent: every position; at least seq: every position too, DecoderLayer.forward sees to it)
    const keep = opts.logits === false ? 0 : opts.logitsToKeep ? opts.logitsToKeep : undefined;
    const lastLayer = parts.layers.length - 1;
    for (let i = 0; i <= lastLayer; i++) h = await parts.layers[i]!.forward(b, h, ctx, i === lastLayer ? keep : undefined);
    step?.commit();
    if (opts.logits === false) return { logits: b.zeros([batch, 0, cfg.vocabSize], "float32") };
    h = parts.norm.forward(b, h);
    let into: Float32Array | undefined;
    if (opts.logitsInto && m.logitsDivisor === 1) {
      const need = (h.size / h.shape[h.rank - 1]!) * cfg.vocabSize;
      if (opts.logitsInto.length < need) throw new Error(`forward: logitsInto holds ${opts.logitsInto.length} floats; these logits need ${need}`);
      into = opts.logitsInto.subarray(0, need);
    }
    let logits = parts.lmHead.forward(b, h, into);
    if (m.logitsDivisor !== 1) logits = b.scale(logits, 1 / m.logitsDivisor);
    return { logits };
  }
}

/** Every distinct tensor reachable from the parts (weights of layers, norms, heads, experts stacks). */
export function tensorsOf(root: unknown): Set<Tensor> {
  const found = new Set<Tensor>();
  const seen = new Set<object>();
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== "object" || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Tensor) {
      found.add(v);
      return;
    }
    if (ArrayBuffer.isView(v)) return;
    if (v instanceof Map) for (const x of v.values()) visit(x);
    else for (const x of Object.values(v)) visit(x);
  };
  visit(root);
  return found;
}

/** int32 [B, S] of the call's own columns of the key mask, or undefined when none of them is padding. */
function newTokenMask(b: Backend, keyMask: Int32Array | undefined, batch: number, past: number, seq: number): Tensor | undefined {
  if (!keyMask) return undefined;
  const out = new Int32Array(batch * seq);
  for (let r = 0; r < batch; r++) out.set(keyMask.subarray(r * (past + seq) + past, (r + 1) * (past + seq)), r * seq);
  return out.includes(0) ? b.fromHost(out, [batch, seq], "int32") : undefined;
}

export function resolveExpertsSetting(setting: ExpertsImplementationSetting): string {
  if (typeof setting === "string") return setting;
  if (!setting || typeof setting !== "object") throw new Error(`experts implementation must be a name or a map keyed by sub-model, got ${JSON.stringify(setting)}`);
  const keys = Object.keys(setting);
  const unknown = keys.filter((k) => k !== "");
  if (unknown.length > 0) {
    throw new Error(`experts implementation map has keys ${unknown.map((k) => `'${k}'`).join(", ")}, but this model has only the text model, keyed ''`);
  }
  const name = setting[""];
  if (typeof name !== "string") throw new Error("experts implementation map needs an entry for '' (the text model)");
  return name;
}

function checkForwardArgs(inputIds: unknown, opts: unknown): asserts inputIds is Tensor {
  if (!(inputIds instanceof Tensor) || inputIds.rank !== 2 || inputIds.dtype !== "int32") {
    throw new Error(`forward: inputIds must be an int32 [B, S] tensor, got ${inputIds instanceof Tensor ? inputIds.toString() : Array.isArray(inputIds) ? "an array" : String(inputIds)}`);
  }
  if (inputIds.shape[0]! < 1 || inputIds.shape[1]! < 1) throw new Error(`forward: inputIds ${shapeString(inputIds.shape)} is empty`);
  if (opts === null || typeof opts !== "object") throw new Error(`forward: options must be an object, got ${String(opts)}`);
  const o = opts as ForwardOptions;
  if (o.cache !== undefined && !(o.cache instanceof ModelCache)) throw new Error("forward: cache must be a ModelCache (model.newCache())");
  if (o.attentionMask !== undefined && !(o.attentionMask instanceof Tensor)) throw new Error("forward: attentionMask must be an int32 Tensor [B, cached + S]");
  if (o.sequences !== undefined && !o.cache) throw new Error("forward: sequences name rows of a cache; pass the cache too");
  const keep = o.logitsToKeep;
  if (keep !== undefined && (!Number.isInteger(keep) || keep < 0)) throw new Error(`forward: logitsToKeep must be a non-negative integer, got ${String(keep)}`);
  if (o.logits !== undefined && typeof o.logits !== "boolean") throw new Error(`forward: logits must be true or false, got ${String(o.logits)}`);
  if (o.logitsInto !== undefined && !(o.logitsInto instanceof Float32Array)) throw new Error(`forward: logitsInto must be a Float32Array, got ${String(o.logitsInto)}`);
}

async function checkVocabulary(ids: Tensor, vocab: number): Promise<void> {
  const values = (await ids.data()) as Int32Array;
  const seq = ids.shape[1]!;
  for (let i = 0; i < values.length; i++) {
    const id = values[i]!;
    if (id < 0 || id >= vocab) {
      throw new Error(`forward: token id ${id} at [${Math.floor(i / seq)}, ${i % seq}] is outside the vocabulary [0, ${vocab})`);
    }
  }
}
