/**
 * DeepSeek sparse attention (DSA, deepseek_v32): MLA whose queries each attend only to the index_topk
 * keys a lightweight indexer scores highest. Indexer: q = wq_b(q latent) [Hi heads × Di], k =
 * LayerNorm(wk(x)) [Di] shared by the heads, both rotated half-split on their first qk_rope_head_dim
 * features; score(i, j) = Σ_h w_h(x_i) · relu(q_ih · k_j / √Di), w = weights_proj(x) / √Hi; keys
 * outside the causal window or padded never win. The chosen keys are gathered per query and attended
 * densely (a top-k mask, in generic backend ops: linear, relu, combineSlots, route, gatherRows,
 * attention). With no more keys than index_topk every key is chosen: plain causal MLA.
 *
 * The cache keeps each token's indexer key beside its attention keys (one key row of
 * Hq·(nope + rope) + Di features), so decode scores every cached token.
 */
import type { Backend } from "../../backends/backend.js";
import type { Tensor } from "../../tensor.js";
import type { WeightReader } from "../build/weights.js";
import type { CacheLayerSpec } from "../cache/layer-spec.js";
import type { ModelConfig } from "../config/model-config.js";
import type { AttentionContext } from "./attention-context.js";
import { Linear } from "./linear.js";
import { MlaAttention } from "./mla-attention.js";
import { Norm } from "./norm.js";

export interface IndexerDims {
  heads: number;
  headDim: number;
  topK: number;
}

export interface Indexer {
  dims: IndexerDims;
  wqB: Linear;
  wk: Linear;
  kNorm: Norm;
  weightsProj: Linear;
}

/** Score of a key that may not be chosen (future or padding), and of the columns padding the score rows. */
const MASKED = -1e30;
const PADDED = -2e30;
/** Score rows are padded to a multiple of this many keys, so a backend compiling per width compiles rarely. */
const ROW_QUANTUM = 64;

export class DsaAttention extends MlaAttention {
  indexer!: Indexer;

  static async loadDsa(w: WeightReader, cfg: ModelConfig, layer: number, attentionBias: boolean, dims: IndexerDims): Promise<DsaAttention> {
    const m = await MlaAttention.load(w, cfg, layer, attentionBias);
    if (m.dims.qLoraRank === null) throw new Error("config.json: DSA attention needs q_lora_rank (its indexer reads the q latent)");
    const p = `model.layers.${layer}.self_attn.indexer`;
    const a = new DsaAttention(m.layer, m.dims, m.proj, m.qANorm, m.kvANorm, m.rope, m.scale);
    a.indexer = {
      dims,
      wqB: await Linear.load(w, `${p}.wq_b`, dims.heads * dims.headDim, m.dims.qLoraRank, false),
      wk: await Linear.load(w, `${p}.wk`, dims.headDim, cfg.hiddenSize, false),
      kNorm: await Norm.load(w, `${p}.k_norm`, "layer", dims.headDim, 1e-6),
      weightsProj: await Linear.load(w, `${p}.weights_proj`, dims.heads, cfg.hiddenSize, false),
    };
    return a;
  }

  override cacheSpec(): CacheLayerSpec {
    const base = super.cacheSpec() as { keyWidth: number; valueWidth: number };
    return { kind: "attention", keyWidth: base.keyWidth + this.indexer.dims.headDim, valueWidth: base.valueWidth };
  }

  override forward(b: Backend, x: Tensor, ctx: AttentionContext): Tensor {
    const [batch, s] = x.shape as [number, number];
    const { heads, qkNopeHeadDim: nope, qkRopeHeadDim: rot, vHeadDim: dv } = this.dims;
    const qk = nope + rot;
    const ix = this.indexer;
    const { heads: ih, headDim: id } = ix.dims;
    const { q, k: kNew, v: vNew, qResid } = this.project(b, x, ctx);
    const ropeSpec = { style: "halfSplit" as const, rotaryDim: rot };
    const iq = b.rope(ix.wqB.forward(b, qResid!).reshape([batch, s, ih, id]), ctx.cos, ctx.sin, ropeSpec);
    const ikNew = b.rope(ix.kNorm.forward(b, ix.wk.forward(b, x)).reshape([batch, s, 1, id]), ctx.cos, ctx.sin, ropeSpec);
    let keys = b.concat([kNew.reshape([batch, s, 1, heads * qk]), ikNew], -1);
    let v = vNew;
    if (ctx.cache) ({ k: keys, v } = ctx.cache.appendKV(b, this.layer, keys, v));
    const total = keys.shape[1]!;
    const k = b.slice(keys, -1, 0, heads * qk).reshape([batch, total, heads, qk]);
    let out: Tensor;
    if (total <= ix.dims.topK) {
      out = b.attention(q, k, v, { scale: this.scale, queryOffset: ctx.pastLength, keyMask: ctx.keyMask });
    } else {
      const ik = b.slice(keys, -1, heads * qk, id).reshape([batch, total, id]);
      const w = b.scale(ix.weightsProj.forward(b, x), ih ** -0.5).reshape([batch, s, ih]);
      const rows: Tensor[] = [];
      for (let r = 0; r < batch; r++) {
        const row = (t: Tensor) => (batch === 1 ? t : b.slice(t, 0, r, 1));
        rows.push(this.sparseRow(b, r, row(q), row(k), row(v), row(iq), row(ik), row(w), ctx));
      }
      out = rows.length === 1 ? rows[0]! : b.concat(rows, 0);
    }
    return this.proj.o.forward(b, out.reshape([batch, s, heads * dv]));
  }

  /** One batch row: each query attends to its top-k keys by index score. Returns [1, S, Hq, Dv]. */
  private sparseRow(b: Backend, r: number, q: Tensor, k: Tensor, v: Tensor, iq: Tensor, ik: Tensor, w: Tensor, ctx: AttentionContext): Tensor {
    const s = q.shape[1]!;
    const total = k.shape[1]!;
    const { heads, qkNopeHeadDim: nope, qkRopeHeadDim: rot, vHeadDim: dv } = this.dims;
    const { heads: ih, headDim: id, topK } = this.indexer.dims;
    const raw = b.linear(iq.reshape([s * ih, id]), ik.reshape([total, id]));
    const relu = b.activate(b.scale(raw, id ** -0.5), "relu");
    let scores = b.combineSlots(relu, w.reshape([s, ih]));
    const width = Math.ceil(total / ROW_QUANTUM) * ROW_QUANTUM;
    if (width > total) scores = b.concat([scores, b.zeros([s, width - total])], 1);
    const { bias, valid } = this.visibility(r, s, total, width, ctx);
    const { index } = b.route(b.add(scores, b.fromHost(bias, [s, width], "float32")), { k: topK, scoring: "none", weights: "scores" });
    const flat = index.reshape([s * topK]);
    const kSel = b.gatherRows(k.reshape([total, heads * (nope + rot)]), flat).reshape([s, topK, heads, nope + rot]);
    const vSel = b.gatherRows(v.reshape([total, heads * dv]), flat).reshape([s, topK, heads, dv]);
    const keyMask = b.fromHost(valid, [s, topK], "int32");
    const out = b.attention(q.reshape([s, 1, heads, nope + rot]), kSel, vSel, { scale: this.scale, causal: false, keyMask });
    return out.reshape([1, s, heads, dv]);
  }

  /**
   * Per query: the score bias (0 on keys it may see, MASKED on future or padded keys, PADDED on the row's
   * padding columns, so real keys always outrank them) and which of its top-k slots hold visible keys
   * (the first min(k, visible) once sorted).
   */
  private visibility(r: number, s: number, total: number, width: number, ctx: AttentionContext): { bias: Float32Array; valid: Int32Array } {
    const topK = this.indexer.dims.topK;
    const mask = ctx.keyMaskHost;
    const bias = new Float32Array(s * width);
    const valid = new Int32Array(s * topK);
    for (let i = 0; i < s; i++) {
      let visible = 0;
      for (let j = 0; j < width; j++) {
        const sees = j <= ctx.pastLength + i && j < total && (!mask || mask[r * total + j] !== 0);
        if (sees) visible++;
        bias[i * width + j] = sees ? 0 : j < total ? MASKED : PADDED;
      }
      valid.fill(1, i * topK, i * topK + Math.min(visible, topK));
    }
    return { bias, valid };
  }
}
