/**
 * MiniMax's lightning attention (transformers' MiniMaxLightningAttention): q, k, v = silu(qkv_proj(x))
 * per head; a linear attention whose state S = Σ_j exp(−s·(t − j)) v_j ⊗ k_j decays at a per-head,
 * per-layer rate s; y_t = S_t · q_t, RMSNorm over all heads, times σ(output_gate(x)), then out_proj.
 * transformers computes it in blocks of block_size for prefill and step by step for decode: the same
 * sums, which the selective scan (dt ≡ 1, a = −s, one group per head) computes for any split. Per
 * sequence it keeps S [heads, head_dim, head_dim], fixed in size; padding tokens leave it unchanged.
 */
import type { Backend } from "../../../backends/backend.js";
import type { Tensor } from "../../../tensor.js";
import type { PlannedTensor } from "../../build/key-plan.js";
import type { WeightReader } from "../../build/weights.js";
import type { CacheLayerSpec } from "../../cache/layer-spec.js";
import { Linear } from "../linear.js";
import { type MixerContext, type MixerFactory, type MixerSite, type SequenceMixer, readMixerState, writeMixerState } from "./mixer.js";
import { registerMixer } from "./registry.js";

export interface LightningDefinition {
  /** Module name under model.layers.{l} ("self_attn"). */
  name: string;
  /** The per-head decay rates s of this layer. */
  slopes(site: MixerSite): number[];
  /** Checkpoint buffers derived from the slopes (slope_rate, the block decay tables): read and checked against `slopes`, else unused. */
  buffers?(site: MixerSite): { key: string; shape: number[]; values: Float64Array }[];
  /** eps of the RMSNorm over the heads' outputs. */
  normEps: number;
}

class LightningAttention implements SequenceMixer {
  constructor(
    readonly layer: number,
    readonly heads: number,
    readonly headDim: number,
    /** −s per head [H] */
    readonly a: Tensor,
    readonly qkv: Linear,
    readonly gate: Linear,
    readonly out: Linear,
    readonly norm: Tensor,
    readonly normEps: number,
  ) {}

  cacheSpec(): CacheLayerSpec {
    return { kind: "state", shape: [this.heads, this.headDim, this.headDim] };
  }

  async forward(b: Backend, x: Tensor, ctx: MixerContext): Promise<Tensor> {
    const [batch, seq] = x.shape as [number, number, number];
    const { heads: nh, headDim: hd } = this;
    const qkv = b.activate(this.qkv.forward(b, x), "silu").reshape([batch, seq, nh, 3 * hd]);
    const part = (i: number) => b.slice(qkv, -1, i * hd, hd);
    // a step size of 1 per token decays the state once; 0 at padding leaves it as it was
    const mask = ctx.tokenMask ? ((await ctx.tokenMask.data()) as Int32Array) : undefined;
    const steps = Float32Array.from({ length: batch * seq * nh }, (_, i) => (mask && mask[Math.floor(i / nh)] === 0 ? 0 : 1));
    const state = readMixerState(b, ctx, this.layer, batch, [nh, hd, hd]);
    const scan = b.ssmScan(part(2), b.fromHost(steps, [batch, seq, nh], "float32"), this.a, part(1), part(0), { state });
    writeMixerState(b, ctx, this.layer, scan.state);
    const y = b.rmsNorm(scan.out.reshape([batch, seq, nh * hd]), this.norm, this.normEps);
    return this.out.forward(b, b.mul(b.activate(this.gate.forward(b, x), "sigmoid"), y));
  }
}

export const lightningAttention: MixerFactory<LightningDefinition> = registerMixer({
  kind: "lightningAttention",
  tensors(def, site) {
    const p = `${site.prefix}.${def.name}`;
    const { hiddenSize: h, numHeads: nh, headDim: hd } = site.cfg;
    const out: PlannedTensor[] = [
      { key: `${p}.qkv_proj.weight`, shapes: [[3 * nh * hd, h]] },
      { key: `${p}.output_gate.weight`, shapes: [[nh * hd, h]] },
      { key: `${p}.out_proj.weight`, shapes: [[h, nh * hd]] },
      { key: `${p}.norm.weight`, shapes: [[nh * hd]] },
    ];
    for (const buf of def.buffers?.(site) ?? []) out.push({ key: buf.key, shapes: [buf.shape], optional: true });
    return out;
  },
  async load(w: WeightReader, def, site) {
    const p = `${site.prefix}.${def.name}`;
    const { hiddenSize: h, numHeads: nh, headDim: hd } = site.cfg;
    const slopes = def.slopes(site);
    for (const buf of def.buffers?.(site) ?? []) {
      if (!w.ckpt.has(buf.key)) continue;
      const stored = (await (await w.get(buf.key, buf.shape)).data()) as Float32Array;
      const bad = stored.findIndex((v, i) => !(Math.abs(v - buf.values[i]!) <= 1e-5 * Math.max(1, Math.abs(buf.values[i]!))));
      if (bad >= 0) {
        throw new Error(`checkpoint '${w.ckpt.name}': '${buf.key}' holds ${stored[bad]} at ${bad}, where the config's layer count, heads and block_size give ${buf.values[bad]}`);
      }
    }
    return new LightningAttention(
      site.layer,
      nh,
      hd,
      w.backend.fromHost(Float32Array.from(slopes, (s) => -s), [nh], "float32"),
      await Linear.load(w, `${p}.qkv_proj`, 3 * nh * hd, h, false),
      await Linear.load(w, `${p}.output_gate`, nh * hd, h, false),
      await Linear.load(w, `${p}.out_proj`, h, nh * hd, false),
      await w.get(`${p}.norm.weight`, [nh * hd]),
      def.normEps,
    );
  },
});
