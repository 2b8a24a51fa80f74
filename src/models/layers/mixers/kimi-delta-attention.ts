/**
 * Kimi Delta Attention (kimi_linear's linear layers), under `model.layers.{l}.self_attn` as the released
 * checkpoints store it:
 *   q, k, v = SiLU(causal depthwise conv of q_proj(x), k_proj(x), v_proj(x)) (q_conv1d / k_conv1d / v_conv1d,
 *   one convolution over the three joined); q, k L2-normalised per head (q also × D^-½);
 *   beta = σ(b_proj(x)); a per-channel decay exp(−exp(A_log[h]) · softplus(f_b(f_a(x)) + dt_bias));
 *   o = gated delta rule(q, k, v, beta, decay); out = o_proj(RMSNorm(o) · σ(g_b(g_a(x)))) per head.
 * H heads of D features for q, k and v alike. State per sequence: the convolution window [Kw − 1, 3·H·D]
 * and the recurrent matrices [H, D, D].
 */
import type { Backend } from "../../../backends/backend.js";
import type { Config } from "../../../loading/checkpoint.js";
import type { Tensor } from "../../../tensor.js";
import type { PlannedTensor } from "../../build/key-plan.js";
import type { WeightReader } from "../../build/weights.js";
import type { CacheLayerSpec } from "../../cache/layer-spec.js";
import { intField, numField } from "../../config/fields.js";
import { intFrom, optional, posInt, type SchemaPiece } from "../../config/schema.js";
import { Linear } from "../linear.js";
import { readMixerState, writeMixerState, type MixerContext, type MixerSite, type SequenceMixer } from "./mixer.js";
import { registerMixer } from "./registry.js";
import { StateParts } from "./state-parts.js";

interface Dims {
  hidden: number;
  heads: number;
  d: number;
  kernel: number;
  eps: number;
}

/** Sizes from the config (transformers' KimiLinearConfig defaults where a field is absent). */
export function kimiDeltaDims(raw: Config): Dims {
  return {
    hidden: intField(raw, ["hidden_size"]),
    heads: intField(raw, ["linear_num_heads"], 32),
    d: intField(raw, ["linear_head_dim"], 128),
    kernel: intField(raw, ["linear_conv_kernel_dim"], 4),
    eps: numField(raw, ["rms_norm_eps"], 1e-5),
  };
}

/** The config fields of KDA layers. */
export const KIMI_DELTA_ATTENTION: SchemaPiece = {
  fields: { linear_num_heads: optional(posInt), linear_head_dim: optional(posInt), linear_conv_kernel_dim: optional(intFrom(2)) },
};

function tensors(_def: unknown, site: MixerSite): PlannedTensor[] {
  const { hidden: h, heads, d, kernel } = kimiDeltaDims(site.raw);
  const w = heads * d;
  const p = `${site.prefix}.self_attn`;
  const t = (key: string, shape: number[]): PlannedTensor => ({ key: `${p}.${key}`, shapes: [shape] });
  return [
    ...["q", "k", "v"].flatMap((n) => [t(`${n}_proj.weight`, [w, h]), t(`${n}_conv1d.weight`, [w, 1, kernel])]),
    t("A_log", [1, 1, heads, 1]),
    t("dt_bias", [w]),
    t("f_a_proj.weight", [d, h]),
    t("f_b_proj.weight", [w, d]),
    t("b_proj.weight", [heads, h]),
    t("g_a_proj.weight", [d, h]),
    t("g_b_proj.weight", [w, d]),
    t("o_norm.weight", [d]),
    t("o_proj.weight", [h, w]),
  ];
}

type Proj = Record<"q" | "k" | "v" | "fA" | "fB" | "b" | "gA" | "gB" | "o", Linear>;

class KimiDeltaAttention implements SequenceMixer {
  private readonly state: StateParts;

  constructor(
    readonly layer: number,
    readonly dims: Dims,
    readonly proj: Proj,
    /** [3·H·D, Kw]: the q, k and v convolutions joined */
    readonly convWeight: Tensor,
    /** −exp(A_log) [H] */
    readonly negA: Tensor,
    readonly dtBias: Tensor,
    readonly normWeight: Tensor,
  ) {
    const { heads, d, kernel } = dims;
    this.state = new StateParts([
      [kernel - 1, 3 * heads * d],
      [heads, d, d],
    ]);
  }

  cacheSpec(): CacheLayerSpec {
    return { kind: "state", shape: this.state.shape };
  }

  forward(b: Backend, x: Tensor, ctx: MixerContext): Tensor {
    const [batch, s] = x.shape as [number, number];
    const { heads, d, eps } = this.dims;
    const p = this.proj;
    const w = heads * d;
    const [convState, recState] = this.state.split(b, readMixerState(b, ctx, this.layer, batch, this.state.shape));
    const qkv = b.concat([p.q.forward(b, x), p.k.forward(b, x), p.v.forward(b, x)], -1);
    const conv = b.causalConv1d(qkv, this.convWeight, { state: convState, act: "silu", tokenMask: ctx.tokenMask });
    const part = (at: number) => b.slice(conv.out, -1, at * w, w).reshape([batch, s, heads, d]);
    // l2norm(x) = x / √(Σx² + 1e-6) = rmsNorm(x, eps 1e-6 / D) / √D; q is further scaled by D^-½.
    const q = b.scale(b.rmsNorm(part(0), undefined, 1e-6 / d), 1 / d);
    const k = b.scale(b.rmsNorm(part(1), undefined, 1e-6 / d), 1 / Math.sqrt(d));
    const a = p.fB.forward(b, p.fA.forward(b, x)).reshape([batch, s, heads, d]);
    const beta = b.activate(p.b.forward(b, x), "sigmoid");
    const rule = b.gatedDeltaRule(q, k, part(2), beta, { gate: { a, scale: this.negA, bias: this.dtBias }, state: recState, tokenMask: ctx.tokenMask });
    writeMixerState(b, ctx, this.layer, this.state.join(b, [conv.state, rule.state]));
    const gate = p.gB.forward(b, p.gA.forward(b, x)).reshape([batch, s, heads, d]);
    const out = b.mul(b.rmsNorm(rule.out, this.normWeight, eps), b.activate(gate, "sigmoid"));
    return p.o.forward(b, out.reshape([batch, s, w]));
  }
}

async function load(wr: WeightReader, _def: unknown, site: MixerSite): Promise<SequenceMixer> {
  const dims = kimiDeltaDims(site.raw);
  const { hidden: h, heads, d, kernel } = dims;
  const w = heads * d;
  const p = `${site.prefix}.self_attn`;
  const lin = (name: string, out: number, inF: number) => Linear.load(wr, `${p}.${name}`, out, inF, false);
  const proj: Proj = {
    q: await lin("q_proj", w, h),
    k: await lin("k_proj", w, h),
    v: await lin("v_proj", w, h),
    fA: await lin("f_a_proj", d, h),
    fB: await lin("f_b_proj", w, d),
    b: await lin("b_proj", heads, h),
    gA: await lin("g_a_proj", d, h),
    gB: await lin("g_b_proj", w, d),
    o: await lin("o_proj", h, w),
  };
  const convs = [];
  for (const n of ["q", "k", "v"]) convs.push((await wr.get(`${p}.${n}_conv1d.weight`, [w, 1, kernel])).reshape([w, kernel]));
  const conv = wr.backend.concat(convs, 0);
  const negA = (await wr.getMapped(`${p}.A_log`, [1, 1, heads, 1], (x) => -Math.exp(x))).reshape([heads]);
  const dtBias = await wr.getMapped(`${p}.dt_bias`, [w], (x) => x);
  const norm = await wr.get(`${p}.o_norm.weight`, [d]);
  return new KimiDeltaAttention(site.layer, dims, proj, conv, negA, dtBias, norm);
}

export const kimiDeltaAttention = registerMixer<undefined>({ kind: "kimi_delta_attention", tensors, load });
