/**
 * One decoder layer: a sequence mixer (attention, or a family's other kind) and a feed-forward sublayer (a sparse MoE block, optionally with a dense
 * MLP beside it, or a dense gated MLP), each with optional norms on its input and on its output:
 *   sequential: h += r·out(attn(in(h))); h += r·out(ffn(in(h)))
 *   parallel:   n = in(h); h += r·attn(n) + r·ffn(n)      (cohere2_moe)
 *   scaled:     n = in(h); h = α·n + β·attn(n); n = in(h); h = α'·n + β'·ffn(n)   (minimax: the residual
 *               is the normalised input)
 * where r is the residual multiplier (granitemoe; 1 elsewhere). A shortcut MoE (longcat_flash) runs its
 * sparse block beside the dense MLP but holds the block's output back in the call's context; the next
 * layer adds it to its output.
 */
import type { Backend } from "../../backends/backend.js";
import type { Tensor } from "../../tensor.js";
import type { AttentionContext } from "./attention-context.js";
import type { SequenceMixer } from "./mixers/mixer.js";
import type { GatedMlp } from "./mlp.js";
import type { SparseMoeBlock } from "./moe-block.js";
import type { Norm } from "./norm.js";

export type FeedForward =
  /**
   * `beside`: a dense MLP on the same input whose output is added to the block's (granitemoeshared);
   * `deferred`: the block's output goes to ctx.deferred instead, for the next layer to add (longcat_flash)
   */
  | { kind: "moe"; block: SparseMoeBlock; beside?: GatedMlp; deferred?: boolean }
  | { kind: "dense"; mlp: GatedMlp };

/** The norms a layer holds; see LayerNorms in config/family.ts for where each sits. */
export interface SublayerNorms {
  attentionIn?: Norm;
  attentionOut?: Norm;
  ffnIn?: Norm;
  ffnOut?: Norm;
}

/** α (the sublayer's normalised input) and β (its output) of a scaled residual. */
export interface ResidualScale {
  residual: number;
  branch: number;
}

export class DecoderLayer {
  constructor(
    readonly index: number,
    readonly norms: SublayerNorms,
    readonly mixer: SequenceMixer,
    readonly ffn: FeedForward,
    readonly residualMultiplier = 1,
    /** attention and the ffn read the same normalised input and add to one residual */
    readonly parallel = false,
    /** residuals from the normalised inputs, scaled (minimax) */
    readonly scaledResiduals?: { attention: ResidualScale; ffn: ResidualScale },
    /** adds the previous layer's deferred block output (ctx.deferred) to its own output */
    readonly addsDeferred = false,
  ) {}

  /**
   * h [B, S, H] → [B, S, H], or [B, keep, H] with `keep`: when only the last `keep` positions of each row are
   * read after this layer (the last layer of a forward that keeps that many logits), the mixer runs on every
   * position (its keys, values and states go to the cache) and everything after it on those positions alone
   * — the feed-forward sublayer is per token, so they get the same values. llama.cpp's graphs do the same
   * (their last layer's output rows). keep = 0: nothing after the mixer runs ([B, 0, H]).
   */
  async forward(b: Backend, h: Tensor, ctx: AttentionContext, keep?: number): Promise<Tensor> {
    const n = this.norms;
    const r = this.residualMultiplier;
    const scaled = (t: Tensor) => (r === 1 ? t : b.scale(t, r));
    const apply = (norm: Norm | undefined, t: Tensor) => (norm ? norm.forward(b, t) : t);
    const seq = h.shape[1]!;
    const cut = keep !== undefined && keep < seq;
    const last = (t: Tensor) => (cut ? b.slice(t, 1, seq - keep, keep) : t);
    if (this.parallel) {
      const x = apply(n.attentionIn, h);
      const a = await this.mixer.forward(b, x, ctx);
      if (keep === 0) return last(h);
      const f = await this.feedForward(b, last(x), ctx);
      return b.add(b.add(last(h), scaled(last(a))), scaled(f));
    }
    if (this.scaledResiduals) {
      const { attention: sa, ffn: sf } = this.scaledResiduals;
      const mix = (x: Tensor, y: Tensor, s: ResidualScale) => b.add(b.scale(x, s.residual), b.scale(y, s.branch));
      const x = apply(n.attentionIn, h);
      const mixed = await this.mixer.forward(b, x, ctx);
      if (keep === 0) return last(h);
      const y = mix(last(x), last(mixed), sa);
      const z = apply(n.ffnIn, y);
      return mix(z, await this.feedForward(b, z, ctx), sf);
    }
    const a = apply(n.attentionOut, await this.mixer.forward(b, apply(n.attentionIn, h), ctx));
    if (keep === 0) return last(h);
    h = b.add(last(h), scaled(last(a)));
    const f = apply(n.ffnOut, await this.feedForward(b, apply(n.ffnIn, h), ctx));
    h = b.add(h, scaled(f));
    if (!this.addsDeferred) return h;
    if (!ctx.deferred) throw new Error(`layer ${this.index}: no deferred MoE output from the layer before`);
    const out = b.add(h, last(ctx.deferred));
    ctx.deferred = undefined;
    return out;
  }

  /** All norms of the layer, for instrumentation. */
  allNorms(): Norm[] {
    const n = this.norms;
    return [n.attentionIn, n.attentionOut, n.ffnIn, n.ffnOut].filter((x): x is Norm => x !== undefined);
  }

  private async feedForward(b: Backend, x: Tensor, ctx: AttentionContext): Promise<Tensor> {
    const dense = (mlp: GatedMlp) => mlp.forward(x.reshape([-1, x.shape[x.rank - 1]!]), b).reshape(x.shape);
    if (this.ffn.kind === "dense") return dense(this.ffn.mlp);
    const out = await this.ffn.block.forward(x);
    if (this.ffn.deferred) {
      ctx.deferred = out;
      return dense(this.ffn.beside!);
    }
    return this.ffn.beside ? b.add(out, dense(this.ffn.beside)) : out;
  }
}
