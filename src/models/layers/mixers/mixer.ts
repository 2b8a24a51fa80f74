/**
 * The per-layer sequence mixer: what mixes information across a layer's tokens. Attention (GQA, MLA)
 * is one kind; hybrid models put recurrent, convolution or linear-attention mixers on some layers,
 * whose cache is a fixed-size state per sequence. A family picks a layer's mixer with
 * `ModelDefinition.mixer(cfg, layer)` (undefined = its attention); each kind is a `MixerFactory` in its
 * own file under this folder, registered there (registry.ts), so adding a kind edits no shared union.
 *
 * State flow: a state mixer declares `{ kind: "state", shape }` in `cacheSpec()`, reads its states
 * [B, ...shape] before the call with `readMixerState` (zeros for new sequences, or without a cache) and
 * hands the states after the call to `writeMixerState` (stored when the whole forward call commits).
 * Padding: `ctx.tokenMask` (int32 [B, S], 0 = padding) marks this call's padding tokens; a state mixer
 * must leave its state unchanged across them (and its output there is ignored).
 */
import type { Backend } from "../../../backends/backend.js";
import type { Config } from "../../../loading/checkpoint.js";
import { shapeString, type Tensor } from "../../../tensor.js";
import type { PlannedTensor } from "../../build/key-plan.js";
import type { WeightReader } from "../../build/weights.js";
import type { CacheLayerSpec } from "../../cache/layer-spec.js";
import type { ModelConfig } from "../../config/model-config.js";
import type { AttentionContext } from "../attention-context.js";

/** What every mixer of one forward call shares (positions, masks, the cache step). */
export type MixerContext = AttentionContext;

/** One layer's sequence mixer, loaded. */
export interface SequenceMixer {
  readonly layer: number;
  /** What the layer keeps per sequence between calls. */
  cacheSpec(): CacheLayerSpec;
  /** x [B, S, H] (after the layer's input norm) → [B, S, H]. */
  forward(b: Backend, x: Tensor, ctx: MixerContext): Tensor | Promise<Tensor>;
}

/** Where a mixer sits: the raw and normalised config, its layer and its module prefix. */
export interface MixerSite {
  raw: Config;
  cfg: ModelConfig;
  layer: number;
  /** "model.layers.{layer}" */
  prefix: string;
}

/** A mixer kind: its tensors (for the key plan, checked before anything is read) and its loader. */
export interface MixerFactory<D> {
  readonly kind: string;
  /** Every tensor the layer reads, with its shape; `load` reads exactly these. */
  tensors(def: D, site: MixerSite): PlannedTensor[];
  load(w: WeightReader, def: D, site: MixerSite): Promise<SequenceMixer>;
}

/** A family's choice for one layer: a factory with its options. */
export interface MixerChoice {
  readonly kind: string;
  tensors(site: MixerSite): PlannedTensor[];
  load(w: WeightReader, site: MixerSite): Promise<SequenceMixer>;
}

export function useMixer<D>(factory: MixerFactory<D>, def: D): MixerChoice {
  return {
    kind: factory.kind,
    tensors: (site) => factory.tensors(def, site),
    load: (w, site) => factory.load(w, def, site),
  };
}

/** A state mixer's states [B, ...shape] before this call: the cache's, or zeros without a cache. */
export function readMixerState(b: Backend, ctx: MixerContext, layer: number, batch: number, shape: readonly number[]): Tensor {
  if (!ctx.cache) return b.zeros([batch, ...shape]);
  const s = ctx.cache.readState(b, layer);
  const want = [batch, ...shape];
  if (s.rank !== want.length || s.shape.some((d, i) => d !== want[i])) {
    throw new Error(`layer ${layer}: cached state is ${shapeString(s.shape)}, the mixer needs ${shapeString(want)}`);
  }
  return s;
}

/** A state mixer's states [B, ...shape] after this call (kept when the call commits; dropped without a cache). */
export function writeMixerState(b: Backend, ctx: MixerContext, layer: number, state: Tensor): void {
  ctx.cache?.writeState(b, layer, state);
}
