/**
 * DeepSeek multi-head latent attention. q = q_proj(x) or q_b(norm(q_a(x))), split (nope, rope);
 * kv_a(x) → (latent c, shared k_rot); c is normalised and expanded by kv_b into per-head (k_nope, v);
 * k = [k_nope | k_rot broadcast over heads]. RoPE covers the rope slice only. The cache holds the
 * expanded k [B, S, H, nope + rope] and v [B, S, H, v_head_dim].
 */
import type { Backend, RopeSpec } from "../../backends/backend.js";
import type { Tensor } from "../../tensor.js";
import type { CacheLayerSpec } from "../cache/layer-spec.js";
import type { AttentionContext } from "./attention-context.js";
import { Linear } from "./linear.js";
import type { MlaDims, ModelConfig } from "../config/model-config.js";
import { Norm } from "./norm.js";
import type { RopeParameters } from "../config/rope-parameters.js";
import type { WeightReader } from "../build/weights.js";

/** DeepSeek's latent norms use eps 1e-6 whatever the config says. */
const LATENT_EPS = 1e-6;

/** qk_head_dim^-½, times mscale(mscale_all_dim)² under a scaled RoPE with mscale_all_dim. */
export function mlaSoftmaxScale(dims: MlaDims, rope: RopeParameters): number {
  let scale = (dims.qkNopeHeadDim + dims.qkRopeHeadDim) ** -0.5;
  const all = rope.extra.mscale_all_dim as number | undefined;
  const factor = rope.extra.factor as number | undefined;
  if (rope.type !== "default" && all && factor !== undefined) {
    const m = factor <= 1 ? 1 : 0.1 * all * Math.log(factor) + 1;
    scale *= m * m;
  }
  return scale;
}

export class MlaAttention {
  constructor(
    readonly layer: number,
    readonly dims: MlaDims & { heads: number },
    readonly proj: { q?: Linear; qA?: Linear; qB?: Linear; kvA: Linear; kvB: Linear; o: Linear },
    readonly qANorm: Norm | undefined,
    readonly kvANorm: Norm,
    /** undefined: no positional encoding */
    readonly rope: RopeSpec | undefined,
    readonly scale: number,
    /** q and the kv latent × these (longcat_flash's √(hidden / rank)); undefined: unscaled */
    readonly latentScales?: { q: number; kv: number },
  ) {}

  /** `rotate` false: no positional encoding (kimi_linear); `latentScales`: longcat_flash's √(hidden / rank) scales. */
  static async load(w: WeightReader, cfg: ModelConfig, layer: number, attentionBias: boolean, opts: { rotate?: boolean; latentScales?: boolean } = {}): Promise<MlaAttention> {
    const { rotate = true, latentScales = false } = opts;
    const m = cfg.mla!;
    const p = `model.layers.${layer}.self_attn`;
    const h = cfg.hiddenSize;
    const heads = cfg.numHeads;
    const qk = m.qkNopeHeadDim + m.qkRopeHeadDim;
    const proj: MlaAttention["proj"] = {
      kvA: await Linear.load(w, `${p}.kv_a_proj_with_mqa`, m.kvLoraRank + m.qkRopeHeadDim, h, attentionBias),
      kvB: await Linear.load(w, `${p}.kv_b_proj`, heads * (m.qkNopeHeadDim + m.vHeadDim), m.kvLoraRank, false),
      o: await Linear.load(w, `${p}.o_proj`, h, heads * m.vHeadDim, attentionBias),
    };
    let qANorm: Norm | undefined;
    if (m.qLoraRank === null) {
      proj.q = await Linear.load(w, `${p}.q_proj`, heads * qk, h, false);
    } else {
      proj.qA = await Linear.load(w, `${p}.q_a_proj`, m.qLoraRank, h, attentionBias);
      proj.qB = await Linear.load(w, `${p}.q_b_proj`, heads * qk, m.qLoraRank, false);
      qANorm = await Norm.load(w, `${p}.q_a_layernorm`, "rms", m.qLoraRank, LATENT_EPS);
    }
    const kvANorm = await Norm.load(w, `${p}.kv_a_layernorm`, "rms", m.kvLoraRank, LATENT_EPS);
    const rope: RopeSpec | undefined = rotate ? { style: cfg.ropeStyle, rotaryDim: cfg.rotaryDim } : undefined;
    if (latentScales && m.qLoraRank === null) throw new Error("config.json: MLA latent scales need q_lora_rank");
    const scales = latentScales ? { q: Math.sqrt(h / m.qLoraRank!), kv: Math.sqrt(h / m.kvLoraRank) } : undefined;
    return new MlaAttention(layer, { ...m, heads }, proj, qANorm, kvANorm, rope, mlaSoftmaxScale(m, cfg.rope), scales);
  }

  /** What the layer keeps per token between calls: the expanded keys (nope + rope) and values of every head. */
  cacheSpec(): CacheLayerSpec {
    const { heads, qkNopeHeadDim: nope, qkRopeHeadDim: rot, vHeadDim: dv } = this.dims;
    return { kind: "attention", keyWidth: heads * (nope + rot), valueWidth: heads * dv };
  }

  /** x [B, S, H] → [B, S, H]. */
  forward(b: Backend, x: Tensor, ctx: AttentionContext): Tensor {
    const [batch, s] = x.shape as [number, number];
    const { q, k: kNew, v: vNew } = this.project(b, x, ctx);
    const { k, v } = ctx.cache ? ctx.cache.appendKV(b, this.layer, kNew, vNew) : { k: kNew, v: vNew };
    const out = b.attention(q, k, v, { scale: this.scale, queryOffset: ctx.pastLength, keyMask: ctx.keyMask });
    return this.proj.o.forward(b, out.reshape([batch, s, this.dims.heads * this.dims.vHeadDim]));
  }

  /**
   * This call's q [B, S, Hq, nope + rope], k [B, S, Hq, nope + rope] and v [B, S, Hq, Dv] (RoPE applied),
   * and the normalised q latent qResid [B, S, q_lora_rank] when q is low-rank (DSA's indexer reads it).
   */
  project(b: Backend, x: Tensor, ctx: AttentionContext): { q: Tensor; k: Tensor; v: Tensor; qResid?: Tensor } {
    const [batch, s] = x.shape as [number, number];
    const { heads, qkNopeHeadDim: nope, qkRopeHeadDim: rot, kvLoraRank: rank, vHeadDim: dv } = this.dims;
    const qResid = this.proj.q ? undefined : this.qANorm!.forward(b, this.proj.qA!.forward(b, x));
    const qFlat = qResid ? this.proj.qB!.forward(b, qResid) : this.proj.q!.forward(b, x);
    const q4 = (this.latentScales ? b.scale(qFlat, this.latentScales.q) : qFlat).reshape([batch, s, heads, nope + rot]);
    const rotate = (t: Tensor) => (this.rope ? b.rope(t, ctx.cos, ctx.sin, this.rope) : t);
    const q = this.rope ? b.concat([b.slice(q4, -1, 0, nope), rotate(b.slice(q4, -1, nope, rot))], -1) : q4;
    const ckv = this.proj.kvA.forward(b, x);
    let latent = this.kvANorm.forward(b, b.slice(ckv, -1, 0, rank));
    if (this.latentScales) latent = b.scale(latent, this.latentScales.kv);
    const kRot = rotate(b.slice(ckv, -1, rank, rot).reshape([batch, s, 1, rot]));
    const kv = this.proj.kvB.forward(b, latent).reshape([batch, s, heads, nope + dv]);
    const k = b.concat([b.slice(kv, -1, 0, nope), b.repeat(kRot, 2, heads)], -1);
    const v = b.slice(kv, -1, nope, dv);
    return { q, k, v, qResid };
  }
}
