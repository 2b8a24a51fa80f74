/**
 * Gated DeltaNet (qwen3_next / qwen3_5_moe linear-attention layers), under `model.layers.{l}.linear_attn`:
 *   q, k, v = conv1d(in_proj_qkv(x)) with SiLU (a depthwise causal convolution carrying its last Kw − 1
 *   inputs); z = in_proj_z(x); beta = σ(in_proj_b(x)); decay = exp(−exp(A_log) · softplus(in_proj_a(x) + dt_bias))
 *   q, k L2-normalised per head (q also × Dk^-½), repeated from Hk key heads to Hv value heads;
 *   o = gated delta rule(q, k, v, beta, decay); out = out_proj(RMSNorm(o) · SiLU(z)) per value head.
 * qwen3_next stores the projections fused and grouped per key head (in_proj_qkvz: per group q, k, v…, z…;
 * in_proj_ba: per group b…, a…); qwen3_5_moe stores in_proj_qkv / _z / _b / _a. The config schema piece
 * GATED_DELTA_NET checks the sizes (value heads a multiple of key heads, a kernel of at least 2). State per sequence: the
 * convolution window [Kw − 1, C] and the recurrent matrices [Hv, Dk, Dv] (C = 2·Hk·Dk + Hv·Dv).
 */
import type { Backend } from "../../../backends/backend.js";
import type { Config } from "../../../loading/checkpoint.js";
import type { Tensor } from "../../../tensor.js";
import type { PlannedTensor } from "../../build/key-plan.js";
import type { WeightReader } from "../../build/weights.js";
import type { CacheLayerSpec } from "../../cache/layer-spec.js";
import { intField, numField } from "../../config/fields.js";
import { Linear } from "../linear.js";
import { readMixerState, writeMixerState, type MixerContext, type MixerSite, type SequenceMixer } from "./mixer.js";
import { registerMixer } from "./registry.js";
import { StateParts } from "./state-parts.js";
import { intFrom, optional, posInt, type SchemaPiece } from "../../config/schema.js";

export interface GatedDeltaNetDefinition {
  /** "groupedFused": in_proj_qkvz + in_proj_ba grouped per key head (qwen3_next); "separate": in_proj_qkv/_z/_b/_a. */
  projections: "groupedFused" | "separate";
}

interface Dims {
  hidden: number;
  kHeads: number;
  vHeads: number;
  dk: number;
  dv: number;
  kernel: number;
  /** conv channels: q, k and v features */
  channels: number;
  eps: number;
}

/** The layer's sizes from the config (transformers' Qwen3NextConfig defaults where a field is absent). */
export function gatedDeltaNetDims(raw: Config): Dims {
  const kHeads = intField(raw, ["linear_num_key_heads"], 16);
  const vHeads = intField(raw, ["linear_num_value_heads"], 32);
  const dk = intField(raw, ["linear_key_head_dim"], 128);
  const dv = intField(raw, ["linear_value_head_dim"], 128);
  return {
    hidden: intField(raw, ["hidden_size"]),
    kHeads,
    vHeads,
    dk,
    dv,
    kernel: intField(raw, ["linear_conv_kernel_dim"], 4),
    channels: 2 * kHeads * dk + vHeads * dv,
    eps: numField(raw, ["rms_norm_eps"], 1e-6),
  };
}

function tensors(def: GatedDeltaNetDefinition, site: MixerSite): PlannedTensor[] {
  const d = gatedDeltaNetDims(site.raw);
  const p = `${site.prefix}.linear_attn`;
  const t = (key: string, shape: number[]): PlannedTensor => ({ key: `${p}.${key}`, shapes: [shape] });
  const projections =
    def.projections === "groupedFused"
      ? [t("in_proj_qkvz.weight", [d.channels + d.vHeads * d.dv, d.hidden]), t("in_proj_ba.weight", [2 * d.vHeads, d.hidden])]
      : [
          t("in_proj_qkv.weight", [d.channels, d.hidden]),
          t("in_proj_z.weight", [d.vHeads * d.dv, d.hidden]),
          t("in_proj_b.weight", [d.vHeads, d.hidden]),
          t("in_proj_a.weight", [d.vHeads, d.hidden]),
        ];
  return [
    ...projections,
    t("conv1d.weight", [d.channels, 1, d.kernel]),
    t("dt_bias", [d.vHeads]),
    t("A_log", [d.vHeads]),
    t("norm.weight", [d.dv]),
    t("out_proj.weight", [d.hidden, d.vHeads * d.dv]),
  ];
}

class GatedDeltaNet implements SequenceMixer {
  private readonly state: StateParts;

  constructor(
    readonly layer: number,
    readonly def: GatedDeltaNetDefinition,
    readonly dims: Dims,
    readonly proj: { qkvz?: Linear; ba?: Linear; qkv?: Linear; z?: Linear; b?: Linear; a?: Linear; out: Linear },
    /** [C, Kw] */
    readonly convWeight: Tensor,
    /** −exp(A_log) [Hv] */
    readonly negA: Tensor,
    readonly dtBias: Tensor,
    readonly normWeight: Tensor,
  ) {
    this.state = new StateParts([
      [dims.kernel - 1, dims.channels],
      [dims.vHeads, dims.dk, dims.dv],
    ]);
  }

  cacheSpec(): CacheLayerSpec {
    return { kind: "state", shape: this.state.shape };
  }

  forward(b: Backend, x: Tensor, ctx: MixerContext): Tensor {
    const [batch, s] = x.shape as [number, number];
    const d = this.dims;
    const { qkv, z, beta, a } = this.project(b, x);
    const [convState, recState] = this.state.split(b, readMixerState(b, ctx, this.layer, batch, this.state.shape));
    const conv = b.causalConv1d(qkv, this.convWeight, { state: convState, act: "silu", tokenMask: ctx.tokenMask });
    const heads = (at: number, n: number, dim: number) => b.slice(conv.out, -1, at, n * dim).reshape([batch, s, n, dim]);
    const kd = d.kHeads * d.dk;
    // l2norm(x) = x / √(Σx² + 1e-6) = rmsNorm(x, eps 1e-6 / D) / √D; q is further scaled by D^-½.
    let q = b.scale(b.rmsNorm(heads(0, d.kHeads, d.dk), undefined, 1e-6 / d.dk), 1 / d.dk);
    let k = b.scale(b.rmsNorm(heads(kd, d.kHeads, d.dk), undefined, 1e-6 / d.dk), 1 / Math.sqrt(d.dk));
    const v = heads(2 * kd, d.vHeads, d.dv);
    const rep = d.vHeads / d.kHeads;
    if (rep > 1) {
      q = b.repeat(q, 2, rep);
      k = b.repeat(k, 2, rep);
    }
    const rule = b.gatedDeltaRule(q, k, v, beta, { gate: { a, scale: this.negA, bias: this.dtBias }, state: recState, tokenMask: ctx.tokenMask });
    writeMixerState(b, ctx, this.layer, this.state.join(b, [conv.state, rule.state]));
    const gated = b.mul(b.rmsNorm(rule.out, this.normWeight, d.eps), b.activate(z, "silu"));
    return this.proj.out.forward(b, gated.reshape([batch, s, d.vHeads * d.dv]));
  }

  /** qkv [B, S, C], z [B, S, Hv, Dv], beta and a [B, S, Hv]. */
  private project(b: Backend, x: Tensor): { qkv: Tensor; z: Tensor; beta: Tensor; a: Tensor } {
    const [batch, s] = x.shape as [number, number];
    const d = this.dims;
    const p = this.proj;
    if (this.def.projections === "separate") {
      return {
        qkv: p.qkv!.forward(b, x),
        z: p.z!.forward(b, x).reshape([batch, s, d.vHeads, d.dv]),
        beta: b.activate(p.b!.forward(b, x), "sigmoid"),
        a: p.a!.forward(b, x),
      };
    }
    const rep = d.vHeads / d.kHeads;
    const group = 2 * d.dk + 2 * rep * d.dv;
    const qkvz = p.qkvz!.forward(b, x).reshape([batch, s, d.kHeads, group]);
    const part = (at: number, n: number) => b.slice(qkvz, -1, at, n).reshape([batch, s, d.kHeads * n]);
    const qkv = b.concat([part(0, d.dk), part(d.dk, d.dk), part(2 * d.dk, rep * d.dv)], -1);
    const z = part(2 * d.dk + rep * d.dv, rep * d.dv).reshape([batch, s, d.vHeads, d.dv]);
    const ba = p.ba!.forward(b, x).reshape([batch, s, d.kHeads, 2 * rep]);
    const half = (at: number) => b.slice(ba, -1, at, rep).reshape([batch, s, d.vHeads]);
    return { qkv, z, beta: b.activate(half(0), "sigmoid"), a: half(rep) };
  }
}

async function load(w: WeightReader, def: GatedDeltaNetDefinition, site: MixerSite): Promise<SequenceMixer> {
  const d = gatedDeltaNetDims(site.raw);
  const p = `${site.prefix}.linear_attn`;
  const lin = (name: string, out: number, inF: number) => Linear.load(w, `${p}.${name}`, out, inF, false);
  const proj: GatedDeltaNet["proj"] =
    def.projections === "groupedFused"
      ? { qkvz: await lin("in_proj_qkvz", d.channels + d.vHeads * d.dv, d.hidden), ba: await lin("in_proj_ba", 2 * d.vHeads, d.hidden), out: await lin("out_proj", d.hidden, d.vHeads * d.dv) }
      : {
          qkv: await lin("in_proj_qkv", d.channels, d.hidden),
          z: await lin("in_proj_z", d.vHeads * d.dv, d.hidden),
          b: await lin("in_proj_b", d.vHeads, d.hidden),
          a: await lin("in_proj_a", d.vHeads, d.hidden),
          out: await lin("out_proj", d.hidden, d.vHeads * d.dv),
        };
  const conv = (await w.get(`${p}.conv1d.weight`, [d.channels, 1, d.kernel])).reshape([d.channels, d.kernel]);
  const negA = await w.getMapped(`${p}.A_log`, [d.vHeads], (x) => -Math.exp(x));
  const dtBias = await w.getMapped(`${p}.dt_bias`, [d.vHeads], (x) => x);
  const norm = await w.get(`${p}.norm.weight`, [d.dv]);
  return new GatedDeltaNet(site.layer, def, d, proj, conv, negA, dtBias, norm);
}

export const gatedDeltaNet = registerMixer<GatedDeltaNetDefinition>({ kind: "gated_delta_net", tensors, load });

/** The config fields of Gated DeltaNet layers: sizes, and value heads grouped over key heads. */
export const GATED_DELTA_NET: SchemaPiece = {
  fields: {
    linear_num_key_heads: optional(posInt),
    linear_num_value_heads: optional(posInt),
    linear_key_head_dim: optional(posInt),
    linear_value_head_dim: optional(posInt),
    linear_conv_kernel_dim: optional(intFrom(2)),
  },
  check(cfg, report) {
    const d = gatedDeltaNetDims(cfg);
    if (d.vHeads % d.kHeads !== 0) report("linear_num_value_heads", `${d.vHeads} must be a multiple of linear_num_key_heads ${d.kHeads}`);
  },
};
