/**
 * LFM2's gated short convolution (transformers' Lfm2MoeShortConv): in_proj → B, C, x (thirds of
 * 3H); a depthwise causal convolution of B·x over the last L tokens; out_proj(C · conv). Its cache is
 * the last L − 1 values of B·x per sequence (the convolution window), fixed in size; padding tokens
 * neither enter the window nor move it.
 */
import type { Backend } from "../../../backends/backend.js";
import type { Tensor } from "../../../tensor.js";
import type { PlannedTensor } from "../../build/key-plan.js";
import type { WeightReader } from "../../build/weights.js";
import type { CacheLayerSpec } from "../../cache/layer-spec.js";
import { Linear } from "../linear.js";
import { type MixerContext, type MixerFactory, type MixerSite, type SequenceMixer, readMixerState, writeMixerState } from "./mixer.js";
import { registerMixer } from "./registry.js";

export interface ShortConvDefinition {
  /** Module name under model.layers.{l} ("conv"). */
  name: string;
  /** Kernel taps L (conv_L_cache). */
  taps(site: MixerSite): number;
  /** Biases on in_proj, the convolution and out_proj (conv_bias). */
  bias(site: MixerSite): boolean;
}

class ShortConv implements SequenceMixer {
  constructor(
    readonly layer: number,
    readonly hidden: number,
    readonly taps: number,
    readonly inProj: Linear,
    readonly outProj: Linear,
    /** [H, L] */
    readonly convWeight: Tensor,
    readonly convBias?: Tensor,
  ) {}

  cacheSpec(): CacheLayerSpec {
    return { kind: "state", shape: [this.taps - 1, this.hidden] };
  }

  forward(b: Backend, x: Tensor, ctx: MixerContext): Tensor {
    const [batch] = x.shape as [number, number, number];
    const h = this.hidden;
    // padding tokens are skipped by the convolution (tokenMask), so they need no zeroing here
    const bcx = this.inProj.forward(b, x);
    const gated = b.mul(b.slice(bcx, -1, 0, h), b.slice(bcx, -1, 2 * h, h));
    const state = readMixerState(b, ctx, this.layer, batch, [this.taps - 1, h]);
    const conv = b.causalConv1d(gated, this.convWeight, { bias: this.convBias, state, tokenMask: ctx.tokenMask });
    writeMixerState(b, ctx, this.layer, conv.state);
    return this.outProj.forward(b, b.mul(b.slice(bcx, -1, h, h), conv.out));
  }
}

export const shortConv: MixerFactory<ShortConvDefinition> = registerMixer({
  kind: "shortConv",
  tensors(def, site) {
    const p = `${site.prefix}.${def.name}`;
    const h = site.cfg.hiddenSize;
    const bias = def.bias(site);
    const linear = (name: string, out: number): PlannedTensor[] => [
      { key: `${p}.${name}.weight`, shapes: [[out, h]] },
      ...(bias ? [{ key: `${p}.${name}.bias`, shapes: [[out]] }] : []),
    ];
    return [
      ...linear("in_proj", 3 * h),
      ...linear("out_proj", h),
      { key: `${p}.conv.weight`, shapes: [[h, 1, def.taps(site)]] },
      ...(bias ? [{ key: `${p}.conv.bias`, shapes: [[h]] }] : []),
    ];
  },
  async load(w: WeightReader, def, site) {
    const p = `${site.prefix}.${def.name}`;
    const h = site.cfg.hiddenSize;
    const taps = def.taps(site);
    const bias = def.bias(site);
    const weight = await w.get(`${p}.conv.weight`, [h, 1, taps]);
    return new ShortConv(
      site.layer,
      h,
      taps,
      await Linear.load(w, `${p}.in_proj`, 3 * h, h, bias),
      await Linear.load(w, `${p}.out_proj`, h, h, bias),
      weight.reshape([h, taps]),
      await w.maybe(`${p}.conv.bias`, [h], bias),
    );
  },
});
