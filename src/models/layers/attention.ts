/**
 * Grouped-query self-attention: q/k/v projections (separate with optional biases, or one fused qkv),
 * optional q/k norms (per head or full width, before or after RoPE), qkv clipping, RoPE (half-split /
 * interleaved, partial, or none on NoPE layers), weightless (L2) q/k norms and query temperature
 * tuning (llama4), sliding window or chunked attention, sinks, KV cache; then an optional sigmoid gate on
 * the output and the output projection.
 */
import type { Backend, RopeSpec } from "../../backends/backend.js";
import { Tensor } from "../../tensor.js";
import type { CacheLayerSpec } from "../cache/layer-spec.js";
import type { AttentionContext } from "./attention-context.js";
import type { GqaDefinition } from "../config/family.js";
import { Linear } from "./linear.js";
import type { ModelConfig } from "../config/model-config.js";
import { Norm } from "./norm.js";
import { chunkedAttention } from "./chunked-attention.js";
import type { WeightReader } from "../build/weights.js";
import { contiguousRows, rowSegments } from "../../loading/fuse.js";
import { SegmentedStorage } from "../../formats/segments.js";

export class GqaAttention {
  constructor(
    readonly layer: number,
    readonly def: GqaDefinition,
    readonly dims: { heads: number; kvHeads: number; headDim: number },
    readonly proj: { q?: Linear; k?: Linear; v?: Linear; qkv?: Linear; o: Linear; gate?: Linear },
    readonly rope: RopeSpec | undefined,
    readonly slidingWindow: number | undefined,
    readonly qNorm?: Norm,
    readonly kNorm?: Norm,
    readonly sinks?: Tensor,
    /** eps of the weightless q/k norm (l2QkNorm) */
    readonly normEps = 1e-6,
  ) {}

  static async load(w: WeightReader, cfg: ModelConfig, layer: number, def: GqaDefinition, slidingWindow: number | undefined): Promise<GqaAttention> {
    const p = `model.layers.${layer}.self_attn`;
    const { hiddenSize: h, numHeads: heads, numKvHeads: kvHeads, headDim: d } = cfg;
    const proj: GqaAttention["proj"] = def.fusedQkv
      ? { qkv: await Linear.load(w, `${p}.qkv_proj`, (heads + 2 * kvHeads) * d, h, def.qkvBias), o: await Linear.load(w, `${p}.o_proj`, h, heads * d, def.oBias) }
      : fuseQkv({
          q: await Linear.load(w, `${p}.q_proj`, (def.gatedQuery ? 2 : 1) * heads * d, h, def.qkvBias),
          k: await Linear.load(w, `${p}.k_proj`, kvHeads * d, h, def.qkvBias),
          v: await Linear.load(w, `${p}.v_proj`, kvHeads * d, h, def.qkvBias),
          o: await Linear.load(w, `${p}.o_proj`, h, heads * d, def.oBias),
        }, !def.gatedQuery);
    if (def.sigmoidOutputGate) proj.gate = await Linear.load(w, `${p}.gate_proj`, heads * d, h, false);
    let qNorm: Norm | undefined;
    let kNorm: Norm | undefined;
    if (def.qkNorm) {
      const full = def.qkNorm.placement === "fullBeforeRope";
      qNorm = await Norm.load(w, `${p}.${def.qkNorm.q}`, "rms", full ? heads * d : d, cfg.normEps, cfg.normWeightOffset);
      kNorm = await Norm.load(w, `${p}.${def.qkNorm.k}`, "rms", full ? kvHeads * d : d, cfg.normEps, cfg.normWeightOffset);
    }
    const sinks = def.sinks ? await w.get(`${p}.sinks`, [heads]) : undefined;
    const rope: RopeSpec | undefined = def.rope === false ? undefined : { style: cfg.ropeStyle, rotaryDim: cfg.rotaryDim };
    return new GqaAttention(layer, def, { heads, kvHeads, headDim: d }, proj, rope, slidingWindow, qNorm, kNorm, sinks, cfg.normEps);
  }

  /** What the layer keeps per token between calls: kvHeads × headDim keys and values. */
  cacheSpec(): CacheLayerSpec {
    const w = this.dims.kvHeads * this.dims.headDim;
    return { kind: "attention", keyWidth: w, valueWidth: w };
  }

  /** x [B, S, H] → [B, S, H]. */
  forward(b: Backend, x: Tensor, ctx: AttentionContext): Tensor {
    const [batch, s] = x.shape as [number, number];
    const { heads, kvHeads, headDim: d } = this.dims;
    const placement = this.def.qkNorm?.placement;
    const projected = this.project(b, x);
    let { q, k, v } = projected;
    if (placement === "fullBeforeRope") {
      q = this.qNorm!.forward(b, q);
      k = this.kNorm!.forward(b, k);
    }
    const clip = this.def.clipQkv;
    if (clip !== undefined) {
      q = b.clamp(q, -clip, clip);
      k = b.clamp(k, -clip, clip);
      v = b.clamp(v, -clip, clip);
    }
    q = q.reshape([batch, s, heads, d]);
    k = k.reshape([batch, s, kvHeads, d]);
    v = v.reshape([batch, s, kvHeads, d]);
    if (placement === "headBeforeRope") {
      q = this.qNorm!.forward(b, q);
      k = this.kNorm!.forward(b, k);
    }
    if (this.rope) {
      q = b.rope(q, ctx.cos, ctx.sin, this.rope);
      k = b.rope(k, ctx.cos, ctx.sin, this.rope);
    }
    if (placement === "headAfterRope") {
      q = this.qNorm!.forward(b, q);
      k = this.kNorm!.forward(b, k);
    }
    if (this.def.l2QkNorm) {
      q = b.rmsNorm(q, undefined, this.normEps);
      k = b.rmsNorm(k, undefined, this.normEps);
    }
    const tt = this.def.temperatureTuning;
    if (tt) q = b.mul(q.reshape([batch * s, heads * d]), temperatureScales(b, batch, s, ctx, tt)).reshape(q.shape);
    if (ctx.cache) ({ k, v } = ctx.cache.appendKV(b, this.layer, k, v));
    const scale = this.def.scale ?? 1 / Math.sqrt(d);
    const out =
      this.def.chunkSize !== undefined
        ? chunkedAttention(b, q, k, v, { chunkSize: this.def.chunkSize, queryOffset: ctx.pastLength, keyMask: ctx.keyMask, keyMaskHost: ctx.keyMaskHost, scale, sinks: this.sinks })
        : b.attention(q, k, v, { scale, queryOffset: ctx.pastLength, slidingWindow: this.slidingWindow, keyMask: ctx.keyMask, sinks: this.sinks });
    let flat = out.reshape([batch, s, heads * d]);
    if (projected.gate) flat = b.mul(flat, b.activate(projected.gate, "sigmoid"));
    return this.proj.o.forward(b, flat);
  }

  /**
   * q [B, S, Hq·D], k and v [B, S, Hkv·D], from separate projections or slices of the fused one, and
   * the output gate's logits [B, S, Hq·D] (gate_proj, or the gate half of a gated query).
   */
  private project(b: Backend, x: Tensor): { q: Tensor; k: Tensor; v: Tensor; gate?: Tensor } {
    const p = this.proj;
    const gate = p.gate?.forward(b, x);
    if (this.def.gatedQuery) {
      const [batch, s] = x.shape as [number, number];
      const { heads, headDim: d } = this.dims;
      const qg = p.q!.forward(b, x).reshape([batch, s, heads, 2 * d]);
      const half = (at: number) => b.slice(qg, -1, at, d).reshape([batch, s, heads * d]);
      return { q: half(0), k: p.k!.forward(b, x), v: p.v!.forward(b, x), gate: half(d) };
    }
    if (!p.qkv) return { q: p.q!.forward(b, x), k: p.k!.forward(b, x), v: p.v!.forward(b, x), gate };
    const { heads, kvHeads, headDim: d } = this.dims;
    const qkv = p.qkv.forward(b, x);
    return { q: b.slice(qkv, -1, 0, heads * d), k: b.slice(qkv, -1, heads * d, kvHeads * d), v: b.slice(qkv, -1, (heads + kvHeads) * d, kvHeads * d), gate };
  }
}

/**
 * Separate q / k / v projections as one [Nq + 2·Nkv, H] product when the backend keeps them in host memory
 * in one format (one pass over the activations and one pool dispatch instead of three; slices split the
 * output). The fused weight is a view of the three (row segments where they lie, e.g. the mapped
 * checkpoint: nothing is copied or touched at load); only the biases (vectors, one row) are copied.
 * Kept separate otherwise: device tensors (webgpu uploads each at load), formats mixed by quantizing
 * (GGUF's Q4_K_M keeps v in q6_K), or a gated query.
 */
export function fuseQkv(proj: GqaAttention["proj"], allowed = true): GqaAttention["proj"] {
  const { q, k, v, o, gate } = proj;
  if (!allowed || !q || !k || !v) return proj;
  const biased = [q, k, v].filter((l) => l.bias).length;
  if (biased !== 0 && biased !== 3) return proj;
  const weight = rowsView([q.weight, k.weight, v.weight]);
  const bias = biased === 3 ? contiguousRows([q.bias!, k.bias!, v.bias!]) : undefined;
  if (!weight || (biased === 3 && !bias)) return proj;
  return { qkv: new Linear(weight, bias), o, gate };
}

/** Host matrices of one format and width as the rows of one [Σ rows, K] view (no copy), or undefined. */
function rowsView(parts: readonly Tensor[]): Tensor | undefined {
  const first = parts[0]!;
  const cols = first.shape[1];
  if (!parts.every((p) => p.isHost && p.rank === 2 && p.dtype === first.dtype && p.shape[1] === cols && p.backend === first.backend)) return undefined;
  const segments = parts.flatMap((p) => rowSegments(p, 0, p.shape[0]!));
  return new Tensor([parts.reduce((a, p) => a + p.shape[0]!, 0), cols!], first.dtype, new SegmentedStorage(segments), first.backend);
}

/** [B·S, 1]: llama4's per-token query temperature at each token's position (past + i without a mask). */
function temperatureScales(b: Backend, batch: number, s: number, ctx: AttentionContext, tt: { floorScale: number; attnScale: number }): Tensor {
  const out = new Float32Array(batch * s);
  for (let r = 0; r < batch; r++) {
    for (let i = 0; i < s; i++) {
      const p = ctx.positions ? ctx.positions[r * s + i]! : ctx.pastLength + i;
      out[r * s + i] = Math.log1p(Math.floor((p + 1) / tt.floorScale)) * tt.attnScale + 1;
    }
  }
  return b.fromHost(out, [batch * s, 1], "float32");
}
