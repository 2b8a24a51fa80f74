/**
 * Mixture of attention heads (jetmoe's MoA): a router picks K attention experts per token; expert e's
 * query projection Q[e] [Hkv·D, H] gives slot j of the token Hkv query heads, so a token has K·Hkv query
 * heads (slot-major: head j·Hkv + h), all reading the shared keys / values of kv_proj (head j·Hkv + h
 * reads kv head h, transformers' key_states.repeat(1, K, 1, 1)). Each slot's attention output goes
 * through its expert's output projection O[e] [H, Hkv·D], weighted by the routing weight and summed,
 * plus a bias. The per-slot projections are the gathered products batched_mm is built on (every
 * backend), read in place from the expert stacks.
 */
import type { Backend, RopeSpec } from "../../backends/backend.js";
import type { Router } from "../../experts/routers.js";
import type { Tensor } from "../../tensor.js";
import type { CacheLayerSpec } from "../cache/layer-spec.js";
import type { AttentionContext } from "./attention-context.js";
import type { Linear } from "./linear.js";

export class MoaAttention {
  constructor(
    readonly layer: number,
    readonly dims: { kvHeads: number; headDim: number; topK: number },
    readonly router: Router,
    /** [E, Hkv·D, H] */
    readonly queries: Tensor,
    /** [E, H, Hkv·D] */
    readonly outputs: Tensor,
    /** [H] */
    readonly bias: Tensor,
    /** [2·Hkv·D, H]: keys, then values */
    readonly kv: Linear,
    readonly rope: RopeSpec,
  ) {}

  cacheSpec(): CacheLayerSpec {
    const w = this.dims.kvHeads * this.dims.headDim;
    return { kind: "attention", keyWidth: w, valueWidth: w };
  }

  /** x [B, S, H] → [B, S, H]. */
  forward(b: Backend, x: Tensor, ctx: AttentionContext): Tensor {
    const [batch, s, h] = x.shape as [number, number, number];
    const { kvHeads, headDim: d, topK } = this.dims;
    const width = kvHeads * d;
    const flat = x.reshape([batch * s, h]);
    const { index, weights } = this.router.route(flat);
    const ids = index.reshape([batch * s * topK]);
    let q = b.gatheredLinear(flat, this.queries, ids, { rowsPerInput: topK }).reshape([batch, s, topK * kvHeads, d]);
    const kv = this.kv.forward(b, x);
    let k = b.slice(kv, -1, 0, width).reshape([batch, s, kvHeads, d]);
    let v = b.slice(kv, -1, width, width).reshape([batch, s, kvHeads, d]);
    q = b.rope(q, ctx.cos, ctx.sin, this.rope);
    k = b.rope(k, ctx.cos, ctx.sin, this.rope);
    if (ctx.cache) ({ k, v } = ctx.cache.appendKV(b, this.layer, k, v));
    const tile = (t: Tensor) => (topK === 1 ? t : b.concat(Array.from({ length: topK }, () => t), 2));
    const out = b.attention(q, tile(k), tile(v), { scale: d ** -0.5, queryOffset: ctx.pastLength, keyMask: ctx.keyMask });
    const y = b.gatheredLinear(out.reshape([batch * s * topK, width]), this.outputs, ids);
    return b.add(b.combineSlots(y, weights), this.bias).reshape([batch, s, h]);
  }
}
